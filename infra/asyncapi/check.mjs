// Parse an AsyncAPI document with the AsyncAPI project's own parser and print, as JSON, what
// it said (every diagnostic) and what it read (channels, operations, messages), for
// tests/unit/test_asyncapi.py to compare with the code. Exit 1 on any error-severity diagnostic.
// Usage: node check.mjs path/to/asyncapi.json
import { readFileSync } from 'node:fs';
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';

const path = process.argv[2];
const { version } = JSON.parse(readFileSync(new URL('./node_modules/@asyncapi/parser/package.json', import.meta.url)));
const { document, diagnostics } = await fromFile(new Parser(), path).parse();

const severities = Object.fromEntries(Object.entries(DiagnosticSeverity).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k.toLowerCase()]));
const report = {
  parser: version,
  diagnostics: diagnostics.map(d => ({ code: String(d.code), severity: severities[d.severity] ?? String(d.severity), message: d.message, path: d.path.join('.') })),
  document: null,
};
if (document) {
  const props = schema => Object.keys(schema?.properties?.() ?? {}).sort();
  report.document = {
    asyncapi: document.version(),
    channels: document.channels().all().map(c => ({ id: c.id(), address: c.address(), messages: c.messages().all().map(m => m.id()) })),
    operations: document.operations().all().map(o => ({
      id: o.id(), action: o.action(), channels: o.channels().all().map(c => c.id()),
      messages: o.messages().all().map(m => m.id()), tags: o.tags().all().map(t => t.name()),
    })),
    messages: document.components().messages().all().map(m => ({
      id: m.id(), name: m.name(), headers: props(m.headers()),
      payload: { title: m.payload()?.title() ?? null, properties: props(m.payload()) },
      key: m.bindings().get('kafka')?.value()?.key ?? null,
    })),
  };
}
console.log(JSON.stringify(report, null, 1));
process.exit(report.diagnostics.some(d => d.severity === 'error') || !document ? 1 : 0);
