"""The console's own behaviour, in process: sign-in and forgery checks, redirects, long
operations' progress, failures, languages. (In front of the real services and in a real
browser: tests/browser/test_console.py.)"""

import ast
import asyncio
import html
import re
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.testclient import TestClient

from infra.cli import console_cookie_env
from services.common.auth import Role, issue_token
from services.console.gateway import ApiError, UnsafePathPart, api_path
from services.console.i18n import Language, negotiate
from services.console.settings import ConsoleSettings
from services.console.web.deps import SESSION_COOKIE, TOKEN_COOKIE, User
from services.console.web.main import create_app
from services.console.web.routers.signin import _local
from support import free_port

CONSOLE = Path(__file__).resolve().parents[2] / "services" / "console"


@pytest.fixture
def console():
    # Nothing listens on these ports: whatever needs a service shows that it is unreachable.
    dead = {f"{name}_url": f"http://127.0.0.1:{free_port()}" for name in ("enrolment", "matching", "sessions")}
    app = create_app(ConsoleSettings(**dead))
    with TestClient(app, base_url="https://127.0.0.1") as client:  # secure cookies by default: HTTPS
        yield client


TOKEN = "__Host-" + TOKEN_COOKIE
SESSION = "__Host-" + SESSION_COOKIE


def signed_in(client: TestClient, role: Role = Role.GROUP_ADMIN, subsidiary: str | None = None, subject: str | None = None) -> str:
    token = issue_token("any-secret", role, subsidiary, subject)  # the console reads claims; services check signatures
    client.cookies.set(TOKEN, token)
    return token


def csrf(client: TestClient) -> str:
    return form_token(client)


def form_token(client: TestClient, page: str = "/sign-in") -> str:
    """The anti-forgery token a page's forms carry."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(page).text).group(1)


def test_a_form_without_the_anti_forgery_token_is_refused_before_anything_is_done(console: TestClient):
    signed_in(console)
    response = console.post("/subsidiaries", data={"id": "lyon", "name": "Lyon", "timezone": "Europe/Paris", "locale": "fr-FR"})
    assert response.status_code == 403
    assert "did not come from this console" in response.text
    wrong = console.post("/subsidiaries", data={"id": "lyon", "csrf_token": csrf(console) + "x"})
    assert wrong.status_code == 403


def test_sign_in_refuses_a_malformed_or_expired_token_without_asking_the_services(console: TestClient):
    token = csrf(console)
    response = console.post("/sign-in", data={"token": "eyJhbGciOi.nope", "csrf_token": token})
    assert response.status_code == 401 and "not a Tandem token" in response.text
    expired = issue_token("any-secret", Role.GROUP_ADMIN, ttl=timedelta(seconds=-5))
    response = console.post("/sign-in", data={"token": expired, "csrf_token": token})
    assert response.status_code == 401 and "This token has expired" in response.text
    assert TOKEN not in console.cookies


def test_pages_need_a_sign_in_and_come_back_to_where_the_user_was_going(console: TestClient):
    response = console.get("/subsidiaries/lyon/participants?role=mentor", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2Fsubsidiaries%2Flyon%2Fparticipants%3Frole%3Dmentor"


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/subsidiaries/lyon", "/subsidiaries/lyon"), ("//evil.example/x", "/"), ("https://evil.example", "/"), ("/\\evil.example", "/"), ("", "/"), ("javascript:alert(1)", "/")],
)
def test_after_sign_in_the_console_only_goes_to_its_own_pages(target: str, expected: str):
    assert _local(target) == expected


def test_a_service_that_does_not_answer_is_named_with_a_503(console: TestClient):
    signed_in(console)
    response = console.get("/subsidiaries")
    assert response.status_code == 503
    assert "A service is not reachable" in response.text and "enrolment is not reachable" in response.text
    health = console.get("/healthz").json()
    assert health["status"] == "degraded" and health["services"]["enrolment"]["status"] == "unreachable"


def test_every_page_forbids_inline_script_and_framing(console: TestClient):
    response = console.get("/sign-in")
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-inline" not in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 'httponly' in response.headers["set-cookie"].lower() and "samesite=strict" in response.headers["set-cookie"].lower()


def test_a_long_operation_shows_its_step_while_it_runs_then_its_outcome_to_its_owner_only(console: TestClient):
    owner = signed_in(console, subject="alice")
    jobs = console.app.state.jobs

    async def start():
        gate = asyncio.Event()

        async def work(job):
            job.at("enrolling", rows=4000)
            await gate.wait()
            job.result["imported"] = 4000

        return jobs.start(User.from_token(owner).owner, "import", "lyon", work), gate

    job, gate = console.portal.call(start)
    running = console.get(f"/jobs/{job.id}/progress")
    assert running.status_code == 200
    assert "Checking and enrolling 4,000 rows…" in running.text and "<progress" in running.text
    assert 'data-state="running"' in running.text

    signed_in(console, subject="bob")  # someone else does not see it
    assert console.get(f"/jobs/{job.id}/progress").status_code == 404

    console.cookies.set(TOKEN, owner)
    console.portal.call(gate.set)
    deadline = time.monotonic() + 5
    while job.running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    done = console.get(f"/jobs/{job.id}/progress")
    assert 'data-state="done"' in done.text and "4,000 participants enrolled from the file." in done.text


def test_the_language_is_the_users_choice_else_the_browsers():
    assert negotiate(None, "fr-FR,fr;q=0.9,en;q=0.8") == "fr"
    assert negotiate(None, "de-DE,de;q=0.9") == "en"
    assert negotiate("en", "fr-FR") == "en"
    assert negotiate("xx", None) == "en"


def test_numbers_dates_and_messages_follow_the_language_and_values_are_escaped():
    french, english = Language("fr"), Language("en")
    assert french.number(4000) == "4\u202f000" and english.number(4000) == "4,000"
    assert french.percent(0.5) == "50\u00a0%"
    assert french.moment("2026-03-10T13:00:00+00:00", "Europe/Paris") == "10 mars 2026, 14:00"
    assert french.gettext("Sign in") == "Se connecter"
    assert english.gettext("Select %(name)s to certify", name="<b>Ann</b>") == "Select &lt;b&gt;Ann&lt;/b&gt; to certify"
    assert french.ngettext("%(num)s participant", "%(num)s participants", 4000) == "4\u202f000 participants"


def test_every_message_of_the_console_has_its_french():
    """A message added to a template or the code without its French fails here: run
    `make translations`, then translate what it added to messages.po."""
    method_map = [("**.py", "python"), ("web/templates/**.html", "jinja2")]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n,jinja2.ext.do", "trimmed": "true"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    used = {message if isinstance(message, str) else message[0] for _, _, message, *_ in extract_from_dir(CONSOLE, method_map, options, keywords=keywords)}
    with (CONSOLE / "translations" / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale="fr")
    missing = sorted(m for m in used if not catalog.get(m) or not all(catalog.get(m).string if isinstance(catalog.get(m).string, tuple) else [catalog.get(m).string]))
    assert not missing, f"without French: {missing}"
    placeholders = re.compile(r"%\((\w+)\)s")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set(placeholders.findall(ids[-1]))
        for text in strings:
            assert set(placeholders.findall(text)) == expected, (message.id, text)
        assert not message.fuzzy, message.id


# -- ids in the services' paths --------------------------------------------------------------


class RecordingServices:
    """Stands for the three services: records the raw path of every call the console makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.answers: dict[tuple[str, str], httpx.Response] = {}  # (method, path) -> what to answer

    def transport(self, service: str) -> httpx.MockTransport:
        def answer(request: httpx.Request) -> httpx.Response:
            path = request.url.raw_path.decode().split("?")[0]
            self.calls.append((service, request.method, path))
            if (request.method, path) in self.answers:
                return self.answers[request.method, path]
            if request.method == "GET" and re.fullmatch(r"/subsidiaries/[^/]+", path):
                sid = unquote(path.rsplit("/", 1)[1])
                return httpx.Response(200, json={"id": sid, "name": "Lyon", "timezone": "Europe/Paris", "locale": "fr-FR", "programme": None})
            return httpx.Response(404, json={"detail": "not found"})

        return httpx.MockTransport(answer)


@pytest.fixture
def recorded(console: TestClient) -> RecordingServices:
    services = RecordingServices()
    clients = console.app.state.services.clients
    for name, client in list(clients.items()):
        clients[name] = httpx.AsyncClient(base_url=str(client.base_url), transport=services.transport(name))
    return services


@pytest.mark.parametrize("part", ["../x", "a/b", "%2e%2e", "..%2Fx", "x?y=1", "x#y", "a b", "é"])
def test_an_id_is_always_one_encoded_path_part(part: str):
    encoded = api_path("/subsidiaries/{}/participants/{}", "lyon", part)
    assert encoded == "/subsidiaries/lyon/participants/" + quote(part, safe="")
    assert encoded.count("/") == 4 and "?" not in encoded and "#" not in encoded and unquote(encoded.rsplit("/", 1)[1]) == part


@pytest.mark.parametrize("part", ["", ".", ".."])
def test_a_dot_segment_is_never_an_id(part: str):
    with pytest.raises(UnsafePathPart):
        api_path("/subsidiaries/{}/participants/{}", "lyon", part)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("/subsidiaries/lyon/participants/a%2Fb", "/subsidiaries/lyon/participants/a%2Fb"),
        ("/subsidiaries/lyon/participants/..%2F..%2Fsubsidiaries", "/subsidiaries/lyon/participants/..%2F..%2Fsubsidiaries"),
        ("/subsidiaries/lyon/participants/%252e%252e", "/subsidiaries/lyon/participants/%252e%252e"),
        ("/subsidiaries/lyon/participants/x%3Fstatus%3Dwithdrawn", "/subsidiaries/lyon/participants/x%3Fstatus%3Dwithdrawn"),
        ("/subsidiaries/lyon/participants/%2e%2e", None),  # ".." once decoded: refused, nothing sent
        ("/subsidiaries/lyon/matching/matches/%2e%2e", None),
    ],
)
def test_an_id_from_the_address_cannot_reach_another_endpoint_of_a_service(console: TestClient, recorded: RecordingServices, address: str, expected: str | None):
    signed_in(console)
    response = console.get(address)
    assert response.status_code == 404
    # The console's own router may not match at all (an encoded "/" is a "/" to it); if it
    # does, the service is asked for exactly that id, in one part, and nothing else.
    paths = [path for _, _, path in recorded.calls]
    assert set(paths) <= {"/subsidiaries/lyon", expected}, paths


@pytest.mark.parametrize("part", ["../../x", "a/b", "%2e%2e", "x?y=1"])
def test_an_id_from_a_form_is_sent_as_one_encoded_path_part(console: TestClient, recorded: RecordingServices, part: str):
    signed_in(console)
    console.post("/subsidiaries/lyon/participants/certify", data={"participant_id": part, "csrf_token": form_token(console)})
    posted = [path for _, method, path in recorded.calls if method == "POST"]
    assert posted == [f"/subsidiaries/lyon/participants/{quote(part, safe='')}/certify"]


def test_a_posted_command_with_a_dot_id_is_refused_before_any_service_hears_of_it(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    token = form_token(console)
    response = console.post("/subsidiaries/lyon/participants/%2e%2e/withdraw", data={"reason": "x", "csrf_token": token})
    assert response.status_code == 404 and "identifier in the address is not valid" in response.text
    assert [c for c in recorded.calls if c[1] != "GET"] == []  # never POST /subsidiaries/lyon/withdraw
    erase = console.post("/subsidiaries/lyon/participants/a%2F..%2F..%2Fx/erase", data={"confirm": "yes", "csrf_token": token})
    assert erase.status_code in (404, 405)
    assert all(path.startswith("/subsidiaries/lyon") for _, _, path in recorded.calls)


def test_every_call_to_a_service_builds_its_path_with_encoded_parts():
    """No f-string path reaches the gateway: every id goes through api_path (or a helper built on it)."""
    calls = ("get", "post", "put", "delete", "page", "request")
    offenders = []
    for source in (CONSOLE / "web").rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in calls:
                receiver = node.func.value
                if isinstance(receiver, ast.Name) and receiver.id == "api" or isinstance(receiver, ast.Call):
                    path = node.args[2 if node.func.attr == "request" else 1] if len(node.args) > 1 else None
                    if path is not None and any(isinstance(part, ast.JoinedStr) for part in ast.walk(path)):
                        offenders.append(f"{source.name}:{node.lineno}")
    assert offenders == []


# -- a failed import keeps no personal data ----------------------------------------------------

IMPORT_FILE = (
    "role,name,email,birth_year,department,site,languages,themes,availability\n"
    "mentor,Léa Martin,lea.martin@example.com,2000,IT,Lyon,fr,networking,mon-am\n"
    "mentee,Ann <script>Dubois,ann.dubois@example.org,1968,Finance,Lyon,fr,knitting,mon-am\n"
    "mentee,Marc Petit,marc.petit@example.net,1965,Claims,Lyon,fr,networking,wed-am\n"
)
# What enrolment answers (messages and parameters naming the person they are about, as a
# careless service might: the console keeps neither).
IMPORT_REFUSAL = [
    {"row": 2, "column": "email", "message": "lea.martin@example.com is already enrolled", "type": "already_enrolled", "ctx": {"subsidiary_id": "lyon"}},
    {"row": 3, "column": "themes", "message": "unknown theme 'knitting'; the programme's themes are: networking", "type": "unknown_theme", "ctx": {"theme": "knitting", "themes": ["networking"]}},
    {"row": 3, "column": "name", "message": "Ann <script>Dubois: value is too long", "type": "value_error", "ctx": {"error": "Ann <script>Dubois"}},
    {"row": 4, "column": "email", "message": "MARC.PETIT@example.net appears more than once", "type": "duplicate_email", "ctx": {}},
]
PERSONAL = ["Léa", "Martin", "lea.martin", "Ann", "Dubois", "ann.dubois", "Marc", "Petit", "marc.petit", "example.com", "example.org", "example.net"]


def _everything_in(value: object, seen: set[int] | None = None) -> str:
    """Every string a job holds, however deeply (its fields, dicts, lists)."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return ""
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        return value if isinstance(value, str) else value.decode("utf-8", "replace")
    if isinstance(value, dict):
        return " ".join(_everything_in(k, seen) + " " + _everything_in(v, seen) for k, v in value.items())
    if isinstance(value, (list, tuple, set)):
        return " ".join(_everything_in(v, seen) for v in value)
    if hasattr(value, "__dict__"):
        return _everything_in(vars(value), seen)
    return str(value)


def test_a_failed_import_keeps_only_row_numbers_columns_and_messages_once_it_ends(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    recorded.answers["POST", "/subsidiaries/lyon/participants/import"] = httpx.Response(422, json={"detail": IMPORT_REFUSAL})
    started = console.post(
        "/subsidiaries/lyon/participants/import",
        data={"csrf_token": form_token(console)},
        files={"file": ("pilot.csv", IMPORT_FILE.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert started.status_code == 303
    jobs = console.app.state.jobs
    (job,) = jobs._jobs.values()
    deadline = time.monotonic() + 5
    while job.running:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert job.state == "failed" and not jobs._tasks  # the task (and the file it read) is gone

    held = _everything_in(job)
    assert [word for word in PERSONAL if word.casefold() in held.casefold()] == []
    kept = [
        {"row": row["row"], "problems": [{key: p[key] for key in ("row", "column", "message")} for p in row["problems"]]}
        for row in job.result["row_errors"]
    ]
    assert kept == [
        {"row": 2, "problems": [{"row": 2, "column": "email", "message": "[email] is already enrolled"}]},
        {"row": 3, "problems": [
            {"row": 3, "column": "themes", "message": "unknown theme 'knitting'; the programme's themes are: networking"},
            {"row": 3, "column": "name", "message": "[name]: value is too long"},
        ]},
        {"row": 4, "problems": [{"row": 4, "column": "email", "message": "[email] appears more than once"}]},
    ]  # fmt: skip
    assert [p["problem"].type for row in job.result["row_errors"] for p in row["problems"]] == [
        "already_enrolled", "unknown_theme", "value_error", "duplicate_email",
    ]  # fmt: skip

    page = console.get(f"/jobs/{job.id}/progress").text
    assert "Nothing was imported: 4 errors in the file." in page
    row = re.search(r'<tr id="row-3">(.*?)</tr>', page, re.S).group(1)
    # Each error by its code, in the page's language; one without a code by its message.
    assert "<strong>themes</strong>" in row and "“knitting” is not one of the programme's themes: choose among networking." in html.unescape(row)
    assert "[name]: value is too long" in row
    assert [word for word in PERSONAL if word in page] == []
    french = console.get(f"/jobs/{job.id}/progress", headers={"Accept-Language": "fr-FR,fr"}).text
    assert "«\u202fknitting\u202f» n’est pas un des thèmes du programme" in french


# -- cookies, forgery, caching, sizes ---------------------------------------------------------


def make_console(base_url: str = "https://127.0.0.1", **settings: object) -> TestClient:
    dead = {f"{name}_url": f"http://127.0.0.1:{free_port()}" for name in ("enrolment", "matching", "sessions")}
    return TestClient(create_app(ConsoleSettings(**{**dead, **settings})), base_url=base_url)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header by cookie name, its attributes lower-cased."""
    return {header.split("=", 1)[0]: header.lower() for header in response.headers.get_list("set-cookie")}


def test_cookies_are_secure_host_only_by_default_and_plain_only_when_told(console: TestClient, recorded: RecordingServices):
    assert ConsoleSettings.model_fields["secure_cookies"].default is True
    recorded.answers["GET", "/subsidiaries"] = httpx.Response(200, json=[])
    first = console.get("/sign-in")
    token = issue_token("any-secret", Role.GROUP_ADMIN)
    signed = console.post("/sign-in", data={"token": token, "csrf_token": form_token(console), "next": "/subsidiaries"}, follow_redirects=False)
    language = console.post("/language", data={"language": "fr", "csrf_token": form_token(console, "/subsidiaries"), "next": "/"}, follow_redirects=False)
    out = console.post("/sign-out", data={"csrf_token": form_token(console, "/subsidiaries")}, follow_redirects=False)
    sent = {**set_cookies(first), **set_cookies(signed), **set_cookies(language)}
    assert set(sent) == {SESSION, TOKEN, "__Host-tandem_lang"}
    assert TOKEN in set_cookies(out) and "__Host-tandem_notice" in set_cookies(out)
    for header in [*sent.values(), *set_cookies(out).values()]:
        attributes = [part.strip() for part in header.split(";")]
        assert "secure" in attributes and "httponly" in attributes and "samesite=strict" in attributes and "path=/" in attributes
        assert not any(part.startswith("domain") for part in attributes)  # __Host-: this host only

    with make_console("http://127.0.0.1", CONSOLE_SECURE_COOKIES=False) as plain:  # tandem up, over plain HTTP
        response = plain.get("/sign-in")
        (name,) = set_cookies(response)
        assert name == SESSION_COOKIE and "secure" not in [p.strip() for p in set_cookies(response)[name].split(";")]
        plain.cookies.set(TOKEN_COOKIE, issue_token("any-secret", Role.GROUP_ADMIN))
        assert plain.get("/", follow_redirects=False).headers["location"] == "/subsidiaries"  # read under its plain name
        plain.cookies.set(TOKEN, plain.cookies[TOKEN_COOKIE])
        plain.cookies.delete(TOKEN_COOKIE)
        assert plain.get("/", follow_redirects=False).headers["location"] == "/sign-in"  # not under the other


def test_tandem_up_turns_secure_cookies_off_for_its_plain_http_console(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv("CONSOLE_SECURE_COOKIES", raising=False)
    assert console_cookie_env() == {"CONSOLE_SECURE_COOKIES": "false"}
    monkeypatch.setenv("CONSOLE_SECURE_COOKIES", "true")  # behind an HTTPS proxy
    assert console_cookie_env() == {"CONSOLE_SECURE_COOKIES": "true"}


def test_an_anti_forgery_token_from_another_session_is_refused(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    mine = form_token(console, "/subsidiaries/lyon/participants/import")
    assert console.post("/subsidiaries/lyon/participants/certify", data={"participant_id": "p1", "csrf_token": mine}).status_code != 403

    # Another browser (its own session cookie), signed in as the same user, with my token.
    other = TestClient(console.app, base_url="https://127.0.0.1")  # the same console process
    other.cookies.set(TOKEN, console.cookies[TOKEN])
    theirs = form_token(other, "/sign-in")
    assert theirs != mine
    refused = other.post("/subsidiaries/lyon/participants/certify", data={"participant_id": "p1", "csrf_token": mine})
    assert refused.status_code == 403 and "did not come from this console" in refused.text

    # The session cookie's own value is no token (as it was when the token was the cookie).
    own_cookie = console.cookies[SESSION]
    assert console.post("/subsidiaries/lyon/participants/certify", data={"participant_id": "p1", "csrf_token": own_cookie}).status_code == 403

    # The same browser before signing in (or as someone else): its token no longer matches.
    console.cookies.delete(TOKEN)
    anonymous = form_token(console, "/sign-in")
    signed_in(console, subject="mallory")
    assert console.post("/subsidiaries/lyon/participants/certify", data={"participant_id": "p1", "csrf_token": anonymous}).status_code == 403
    assert console.post("/subsidiaries/lyon/participants/certify", data={"participant_id": "p1", "csrf_token": mine}).status_code == 403
    posted = [c for c in recorded.calls if c[1] == "POST"]
    assert len(posted) == 1  # only the first, rightful one


def test_no_page_is_kept_in_a_cache(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    for address in ("/sign-in", "/subsidiaries/lyon/participants/import", "/subsidiaries/lyon/participants/nobody", "/jobs/unknown", "/"):
        response = console.get(address, follow_redirects=False)
        assert response.headers["cache-control"] == "no-store", address
    assert "no-store" not in console.get("/static/console.css").headers.get("cache-control", "")


def test_a_form_larger_than_the_limit_is_refused_before_it_is_parsed(console: TestClient, recorded: RecordingServices, monkeypatch: pytest.MonkeyPatch):
    signed_in(console)
    token = form_token(console)
    parsed = []
    original = Request.form
    monkeypatch.setattr(Request, "form", lambda self, *a, **k: parsed.append(self.url.path) or original(self, *a, **k))
    big = {"participant_id": "x" * (64 * 1024), "csrf_token": token}
    announced = console.post("/subsidiaries/lyon/participants/certify", data=big)
    assert announced.status_code == 413
    assert "The form is larger than the console accepts (64 KiB at most)." in announced.text and "Too large" in announced.text
    assert announced.headers["cache-control"] == "no-store"
    assert recorded.calls == []  # refused at once: no service asked, nothing read

    body = urlencode(big).encode()
    streamed = console.post(  # no Content-Length: counted as it arrives
        "/subsidiaries/lyon/participants/certify", content=(body[i : i + 4096] for i in range(0, len(body), 4096)), headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert streamed.status_code == 413 and "64 KiB at most" in streamed.text
    assert parsed == ["/subsidiaries/lyon/participants/certify"]  # the streamed one began, the announced one never
    assert [c for c in recorded.calls if c[1] == "POST"] == []


def test_a_csv_file_may_be_larger_than_a_form_up_to_its_own_limit():
    with make_console(CONSOLE_MAX_UPLOAD_BYTES=200_000) as console:
        services = RecordingServices()
        clients = console.app.state.services.clients
        for name, client in list(clients.items()):
            clients[name] = httpx.AsyncClient(base_url=str(client.base_url), transport=services.transport(name))
        services.answers["POST", "/subsidiaries/lyon/participants/import"] = httpx.Response(200, json={"imported": 1000})
        signed_in(console)
        token = form_token(console)
        rows = IMPORT_FILE.encode() + b"mentee,A,a@example.com,1970,IT,Lyon,fr,networking,mon-am\n" * 1500  # ~90 KB
        accepted = console.post("/subsidiaries/lyon/participants/import", data={"csrf_token": token}, files={"file": ("p.csv", rows, "text/csv")}, follow_redirects=False)
        assert accepted.status_code == 303 and accepted.headers["location"].startswith("/jobs/")
        refused = console.post("/subsidiaries/lyon/participants/import", data={"csrf_token": token}, files={"file": ("p.csv", rows * 3, "text/csv")})
        assert refused.status_code == 413
        assert "The file is larger than the console accepts (195.3 KiB at most): split it into smaller files" in refused.text


# -- a participant's page follows them into the other services ----------------------------------

PID = "0b6c3a52-8f0e-4d7e-9a51-2f1d7a0c9e11"
ANNE = {
    "id": PID, "subsidiary_id": "lyon", "role": "mentee", "status": "enrolled", "name": "Anne Dubois", "email": "anne@example.com",
    "birth_year": 1968, "manager_email": None, "department": "Finance", "site": "Lyon", "languages": ["fr"], "themes": ["networking"],
    "availability": [], "enrolled_at": "2026-01-05T09:00:00+00:00", "certified_at": None, "withdrawn_at": None,
    "withdrawal_reason": None, "personal_data_erased": False, "version": 1,
}  # fmt: skip


def test_a_participant_page_says_when_the_other_services_have_not_heard_of_them_yet(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    recorded.answers["GET", f"/subsidiaries/lyon/participants/{PID}"] = httpx.Response(200, json=ANNE)
    # matching and sessions answer 404: the subsidiary's events have not reached them yet
    page = console.get(f"/subsidiaries/lyon/participants/{PID}")
    assert page.status_code == 200
    assert "Matching has not heard of this participant yet" in page.text
    assert "Sessions has not heard of this participant yet" in page.text
    assert ("matching", "GET", "/subsidiaries/lyon/matches") in recorded.calls

    recorded.answers["GET", "/subsidiaries/lyon/matches"] = httpx.Response(200, json=[])
    recorded.answers["GET", "/subsidiaries/lyon/relationships"] = httpx.Response(200, json=[])
    recorded.answers["GET", "/subsidiaries/lyon/sessions"] = httpx.Response(200, json=[])
    page = console.get(f"/subsidiaries/lyon/participants/{PID}").text
    assert "No match yet." in page and "No relationship yet." in page and "No session yet." in page
    assert "has not heard" not in page


def test_a_participant_page_says_when_a_service_is_not_reachable(console: TestClient, recorded: RecordingServices):
    signed_in(console)
    recorded.answers["GET", f"/subsidiaries/lyon/participants/{PID}"] = httpx.Response(200, json=ANNE)
    clients = console.app.state.services.clients
    clients["matching"] = httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}")  # nothing listens there
    page = console.get(f"/subsidiaries/lyon/participants/{PID}")
    assert page.status_code == 200 and "Anne Dubois" in page.text
    assert "Matching is not reachable just now" in page.text
