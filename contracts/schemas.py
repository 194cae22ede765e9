"""The committed JSON Schema of every integration event, and the compatibility rules between versions.

`contracts/schemas/<producer>/<Type>.v<N>.json` is the published schema of version N of an event.
Regenerate with `python -m contracts.schemas` (`make schemas`); verify with `--check` (the unit tests
do). The same command writes and checks the AsyncAPI document that uses them (contracts/asyncapi.py). A committed version is never changed incompatibly: a breaking change needs a new `schema_version`,
and the files of earlier versions stay, because auditors read old events with them.
"""

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from contracts.envelope import PERSONAL_DATA_MARK, IntegrationEvent
from contracts.registry import EVENT_TYPES

SCHEMAS_DIR = Path(__file__).parent / "schemas"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
REGENERATE = "run `make schemas` (python -m contracts.schemas)"

Schema = dict[str, Any]
EventTypes = Iterable[type[IntegrationEvent]]

# Annotations: changing them changes no message and no consumer's verdict on one.
_ANNOTATIONS = frozenset({"title", "description", "examples", "default", "deprecated", "$comment", PERSONAL_DATA_MARK})
# Walked structurally below; every other keyword is an assertion compared by value.
_STRUCTURE = frozenset({"$ref", "$defs", "properties", "required", "items", "prefixItems", "anyOf", "oneOf", "allOf"})
_LOWER_BOUNDS = frozenset({"minLength", "minimum", "exclusiveMinimum", "minItems", "minProperties", "minContains"})
_UPPER_BOUNDS = frozenset({"maxLength", "maximum", "exclusiveMaximum", "maxItems", "maxProperties", "maxContains"})


class IncompatibleSchemaChange(Exception):
    """A model no longer matches the committed schema of its own version in a compatible way."""


def schema_path(event_cls: type[IntegrationEvent], *, version: int | None = None, root: Path = SCHEMAS_DIR) -> Path:
    """Where version `version` (default: the model's own) of the event's schema is committed."""
    if not event_cls.PRODUCER:
        raise ValueError(f"{event_cls.__name__} has no PRODUCER")
    return root / event_cls.PRODUCER / f"{event_cls.type_name()}.v{event_cls.version() if version is None else version}.json"


def current_schema(event_cls: type[IntegrationEvent]) -> Schema:
    """The JSON Schema of the event as the model defines it now, as plain JSON data."""
    # Serialization mode: the schema describes the JSON producers put on the wire (model_dump_json),
    # which is also what consumers parse; validation mode would describe Python-side inputs instead.
    schema = {"$schema": DIALECT, **event_cls.model_json_schema(mode="serialization")}
    # Round-trip through JSON so the result compares equal to a committed file (tuples become lists...).
    return json.loads(render(schema))


def render(schema: Schema) -> str:
    """The committed text of a schema: stable, so regenerating an unchanged model changes no byte."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def incompatibilities(old: Schema, new: Schema) -> list[str]:
    """Why a producer or consumer built on `old` would break with `new`; empty when compatible."""
    problems: list[str] = []
    _compare(old, new, old, new, "", problems, set())
    return problems


def _resolve(node: Schema, root: Schema) -> tuple[Schema, str | None]:
    """The node with its local `$ref` replaced by the definition (sibling keywords win), and the ref."""
    ref = node.get("$ref")
    if ref is None:
        return node, None
    prefix = "#/$defs/"
    if not ref.startswith(prefix):
        raise ValueError(f"unsupported $ref {ref!r}: only {prefix}... is")
    target, _ = _resolve(root["$defs"][ref.removeprefix(prefix)], root)
    return {**target, **{k: v for k, v in node.items() if k != "$ref"}}, ref


def _compare(
    old: Schema, new: Schema, old_root: Schema, new_root: Schema, path: str, out: list[str], seen: set[Any]
) -> None:
    old, old_ref = _resolve(old, old_root)
    new, new_ref = _resolve(new, new_root)
    if old_ref and new_ref:
        # A definition pair is compared once: stops recursive models, and reports shared types once.
        if (old_ref, new_ref) in seen:
            return
        seen.add((old_ref, new_ref))
    where, prefix = (path, f"{path}.") if path else ("(root)", "")

    # Every assertion keyword must stay as it is. Loosening counts as breaking like tightening does:
    # consumers validate with the old model, so a value the new schema newly allows is rejected by them.
    # For the same reason an added enum value is breaking, not only a removed one.
    old_type, new_type = _type_of(old, old_root), _type_of(new, new_root)
    if old_type != new_type:
        out.append(f"{where}: type changed from {old_type} to {new_type}")
        return
    for key in sorted((old.keys() | new.keys()) - _ANNOTATIONS - _STRUCTURE):
        if old.get(key) != new.get(key):
            out.append(f"{where}: {_describe_change(key, old.get(key), new.get(key))}")

    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        old_list, new_list = old.get(key, []), new.get(key, [])
        if len(old_list) != len(new_list):
            out.append(f"{where}: {key} changed from {len(old_list)} to {len(new_list)} alternatives")
            continue
        for i, (o, n) in enumerate(zip(old_list, new_list)):
            _compare(o, n, old_root, new_root, f"{prefix}{key}[{i}]", out, seen)

    if "items" in old or "items" in new:
        if isinstance(old.get("items"), dict) and isinstance(new.get("items"), dict):
            _compare(old["items"], new["items"], old_root, new_root, f"{path}[]", out, seen)
        elif old.get("items") != new.get("items"):
            out.append(f"{where}: items changed from {old.get('items')!r} to {new.get('items')!r}")

    old_props, new_props = old.get("properties", {}), new.get("properties", {})
    old_required, new_required = set(old.get("required", [])), set(new.get("required", []))
    for name in sorted(old_props.keys() | new_props.keys()):
        at = prefix + name
        if name not in new_props:
            out.append(f"{at}: property removed")
        elif name not in old_props:
            if name in new_required:
                out.append(f"{at}: new required property (old producers do not send it)")
            elif old.get("additionalProperties") is False:
                out.append(f"{at}: new property, but old consumers forbid unknown properties")
        else:
            if name in new_required - old_required:
                out.append(f"{at}: became required (old producers may omit it)")
            elif name in old_required - new_required:
                out.append(f"{at}: no longer required (old consumers expect it)")
            _compare(old_props[name], new_props[name], old_root, new_root, at, out, seen)


def _type_of(node: Schema, root: Schema) -> str:
    if "anyOf" in node:
        return " | ".join(_type_of(_resolve(branch, root)[0], root) for branch in node["anyOf"])
    return str(node.get("type", "any"))


def _describe_change(key: str, old: Any, new: Any) -> str:
    if old is None:
        return f"{key} {new!r} added"
    if new is None:
        return f"{key} {old!r} removed"
    if key == "enum":
        removed = [v for v in old if v not in new]
        added = [v for v in new if v not in old]
        parts = [f"values {removed!r} removed"] if removed else []
        if added:
            parts.append(f"values {added!r} added (old consumers reject them)")
        return "enum " + ("; ".join(parts) or f"reordered from {old!r} to {new!r}")
    if key in _LOWER_BOUNDS | _UPPER_BOUNDS and isinstance(old, int | float) and isinstance(new, int | float):
        tightened = new > old if key in _LOWER_BOUNDS else new < old
        return f"{key} {'tightened' if tightened else 'loosened'} from {old!r} to {new!r}"
    return f"{key} changed from {old!r} to {new!r}"


def _load(path: Path) -> Schema:
    return json.loads(path.read_text(encoding="utf-8"))


def check(event_types: EventTypes = EVENT_TYPES.values(), *, root: Path = SCHEMAS_DIR) -> list[str]:
    """Every way the committed schemas disagree with the models; empty when all is well."""
    problems: list[str] = []
    for cls in event_types:
        name, version = cls.type_name(), cls.version()
        path = schema_path(cls, root=root)
        if not path.exists():
            problems.append(f"{name} v{version}: schema {path} is missing: {REGENERATE}")
        else:
            current = current_schema(cls)
            # Compare the text, not only the data: the committed file is exactly what `write` produces.
            if path.read_text(encoding="utf-8") != render(current):
                breaking = incompatibilities(_load(path), current)
                if breaking:
                    problems.append(
                        f"{name} v{version}: the model breaks compatibility with the committed {path}; "
                        f"a breaking change needs schema_version {version + 1} (keep the v{version} file):\n  "
                        + "\n  ".join(breaking)
                    )
                else:
                    problems.append(f"{name} v{version}: {path} is out of date with the model: {REGENERATE}")
        for earlier in range(1, version):
            old_path = schema_path(cls, version=earlier, root=root)
            if not old_path.exists():
                problems.append(
                    f"{name} v{earlier}: schema {old_path} of an earlier version is missing; "
                    "auditors rely on it: restore it from git history"
                )
    return problems


def write(event_types: EventTypes = EVENT_TYPES.values(), *, root: Path = SCHEMAS_DIR) -> list[Path]:
    """Regenerate the current version's schema of every event; the paths that changed.

    Refuses, writing nothing at all, when a committed version would change incompatibly.
    Never deletes the files of earlier versions.
    """
    pending: list[tuple[Path, str]] = []
    refusals: list[str] = []
    for cls in event_types:
        path, schema = schema_path(cls, root=root), current_schema(cls)
        text = render(schema)
        if path.exists():
            if path.read_text(encoding="utf-8") == text:
                continue
            breaking = incompatibilities(_load(path), schema)
            if breaking:
                refusals.append(
                    f"{cls.type_name()} v{cls.version()} ({path}): bump schema_version instead:\n  "
                    + "\n  ".join(breaking)
                )
                continue
        pending.append((path, text))
    if refusals:
        raise IncompatibleSchemaChange(
            "refusing to change committed schemas incompatibly; a breaking change needs a new schema_version:\n"
            + "\n".join(refusals)
        )
    for path, text in pending:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return [path for path, _ in pending]


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def check_document(path: Path | None = None) -> list[str]:
    """How the committed AsyncAPI document disagrees with the contracts; empty when it does not."""
    from contracts import asyncapi  # it builds on this module

    path = path or asyncapi.DOCUMENT_PATH
    if not path.exists():
        return [f"the AsyncAPI document {path} is missing: {REGENERATE}"]
    if path.read_text(encoding="utf-8") != render(asyncapi.document()):
        return [f"the AsyncAPI document {path} is out of date with the contracts: {REGENERATE}"]
    return []


def write_document(path: Path | None = None) -> bool:
    """Regenerate the AsyncAPI document; whether it changed."""
    from contracts import asyncapi

    path = path or asyncapi.DOCUMENT_PATH
    text = render(asyncapi.document())
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m contracts.schemas", description="Regenerate or check the committed event schemas and the AsyncAPI document."
    )
    parser.add_argument("--check", action="store_true", help="report disagreements instead of writing; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        problems = check() + check_document()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    try:
        written = write()
    except IncompatibleSchemaChange as error:
        print(error, file=sys.stderr)  # and the document stays as it is: it describes the committed schemas
        return 1
    from contracts.asyncapi import DOCUMENT_PATH

    if write_document():
        written.append(DOCUMENT_PATH)
    for path in written:
        print(f"wrote {_shown(path)}")
    if not written:
        print("schemas up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
