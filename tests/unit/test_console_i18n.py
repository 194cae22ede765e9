"""The console's French and its dates: statuses agree with their noun, the default themes are
translated, French typography, and times to the minute as the browser's region writes them."""

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from fastapi import Request
from fastapi.testclient import TestClient

from services.console.i18n import EVERY, STATUSES, THEMES, Language, region
from services.console.settings import ConsoleSettings
from services.console.web.main import create_app
from support import free_port

CONSOLE = Path(__file__).resolve().parents[2] / "services" / "console"
PO = CONSOLE / "translations" / "fr" / "LC_MESSAGES" / "messages.po"
NNBSP = "\u202f"


def catalogue():
    with PO.open("rb") as po:
        return read_po(po, locale="fr")


def french_strings():
    for message in catalogue():
        if message.id:
            yield from (message.string if isinstance(message.string, tuple) else (message.string,))


def test_french_puts_a_narrow_no_break_space_before_double_punctuation_and_inside_guillemets():
    # "…fichier : 3" with a plain or no-break space, or none, is wrong; "14:00", "https://" and
    # "(;)" are not punctuation of a sentence.
    wrong = []
    for text in french_strings():
        for found in re.finditer(r"(.?)([:;!?])(?=\s|$|[»)<])", text):
            if found.group(1) not in (NNBSP, "("):
                wrong.append(text)
        if re.search(r"«(?!\u202f)|(?<!\u202f)»", text):
            wrong.append(text)
    assert not wrong, wrong


def test_the_typography_check_can_fail():
    assert re.search(r"(.?)([:;!?])(?=\s|$)", "Veuillez corriger :").group(1) != NNBSP


def test_every_status_theme_and_filter_choice_has_its_french_in_its_context():
    catalog = catalogue()
    marked = [*(m for names in STATUSES.values() for m in names.values()), *EVERY.values(), *THEMES.values()]
    missing = [m for m in marked if not (catalog.get(m[1], context=m[0]) and catalog.get(m[1], context=m[0]).string)]
    assert not missing, missing
    # ... and pybabel finds them where they are marked (`make translations` keeps them).
    extracted = {(context, message) for _, _, message, _, context in _extracted()}
    assert set(marked) <= extracted


def _extracted():
    method_map = [("**.py", "python")]
    for filename, lineno, message, comments, context in extract_from_dir(CONSOLE, method_map, keywords={"pgettext": ((1, "c"), 2)}):
        yield filename, lineno, message, comments, context


@pytest.mark.parametrize(
    ("noun", "expected"),
    [
        ("relationship", {"active": "active", "completed": "terminée", "closed": "close"}),
        ("match", {"active": "actif", "declined": "refusé", "ended": "clos", "completed": "terminé"}),
        ("session", {"scheduled": "planifiée", "held": "tenue", "cancelled": "annulée"}),
        ("participant", {"enrolled": "inscrit", "certified": "certifié", "withdrawn": "retiré"}),
        ("run", {"draft": "brouillon", "published": "publié"}),
    ],
)
def test_a_status_agrees_with_the_noun_it_is_said_of(noun, expected):
    french, english = Language("fr"), Language("en")
    assert {status: french.status(status, noun) for status in expected} == expected
    assert {status: english.status(status, noun) for status in expected} == {s: s for s in expected}


def test_a_status_only_one_noun_has_needs_no_noun_and_all_agrees_too():
    french = Language("fr")
    assert french.status("closed") == "close" and french.status("held") == "tenue" and french.status("declined") == "refusé"
    assert french.every("relationship") == "Toutes" and french.every("session") == "Toutes" and french.every("match") == "Tous"
    assert french.every(None) == "Tous" and Language("en").every("session") == "All"
    assert french.status("unheard-of") == "unheard-of"


def test_the_default_themes_follow_the_language_and_a_subsidiarys_own_stay_as_written():
    french, english = Language("fr"), Language("en")
    assert [french.theme(t) for t in THEMES] == [
        "recherche d’informations", "réseautage", "gérer ses données sur les réseaux sociaux", "apprentissage en ligne"
    ]
    assert [english.theme(t) for t in THEMES] == list(THEMES)
    assert french.theme("cybersécurité au quotidien") == "cybersécurité au quotidien" and french.theme(None) is None


def test_the_default_themes_are_the_enrolment_programmes():
    from services.enrolment.domain import DEFAULT_THEMES

    assert list(THEMES) == DEFAULT_THEMES


@pytest.mark.parametrize(
    ("accept_language", "language", "expected"),
    [
        ("en-GB,en;q=0.9", "en", "10 Mar 2026, 14:00"),  # day month year, 24 hours
        ("en-US,en;q=0.9", "en", "Mar 10, 2026, 2:00 PM"),  # month day, 12 hours
        ("en", "en", "Mar 10, 2026, 2:00 PM"),
        ("fr-FR,fr;q=0.9", "fr", "10 mars 2026, 14:00"),
        ("en-GB", "fr", "10 mars 2026, 14:00"),  # French chosen: French dates, whatever the browser's English
        ("fr-CA", "fr", "10 mars 2026, 14 h 00"),
        ("xx-YY,;q=0,en-GB", "en", "10 Mar 2026, 14:00"),  # nonsense in the header is skipped
    ],
)
def test_a_moment_is_to_the_minute_in_the_browsers_region_and_the_subsidiarys_time_zone(accept_language, language, expected):
    lang = Language(language, region(language, accept_language))
    assert lang.moment("2026-03-10T13:00:00+00:00", "Europe/Paris") == expected
    assert lang.moment(None) == "–"


def test_each_request_writes_dates_as_its_browsers_region_does():
    dead = {f"{name}_url": f"http://127.0.0.1:{free_port()}" for name in ("enrolment", "matching", "sessions")}
    app = create_app(ConsoleSettings(**dead))

    @app.get("/_formats")
    async def formats(request: Request) -> dict[str, str]:  # what per_request built from the header
        return {"formats": str(request.state.language.formats), "language": request.state.language.code}

    with TestClient(app, base_url="https://127.0.0.1") as client:
        for accept, expected in (("en-GB,en;q=0.9", "en_GB"), ("en-US,en", "en_US"), ("fr-FR", "fr_FR"), ("de-DE", "en")):
            assert client.get("/_formats", headers={"Accept-Language": accept}).json()["formats"] == expected


def test_the_favicon_is_linked_and_favicon_ico_finds_it():
    dead = {f"{name}_url": f"http://127.0.0.1:{free_port()}" for name in ("enrolment", "matching", "sessions")}
    with TestClient(create_app(ConsoleSettings(**dead)), base_url="https://127.0.0.1") as client:
        page = client.get("/sign-in").text
        assert re.search(r'<link rel="icon" href="[^"]*/static/favicon\.svg" type="image/svg\+xml">', page)
        icon = client.get("/favicon.ico")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        assert icon.text.startswith("<svg")


def test_each_problem_code_has_one_sentence():
    """A code given twice in MESSAGES would silently keep the second sentence (a dict literal
    does not complain): two services' codes must not collide, or must mean the same."""
    tree = ast.parse((CONSOLE / "problems.py").read_text(encoding="utf-8"))
    (messages,) = [node.value for node in ast.walk(tree) if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "MESSAGES"]
    codes = [key.value for key in messages.keys if isinstance(key, ast.Constant)]
    assert len(codes) > 50
    assert sorted({code for code in codes if codes.count(code) > 1}) == []


def test_no_template_writes_a_colon_of_its_own_after_a_label():
    """A colon written in the template (`{{ _("Theme") }}: ...`) stays English in French,
    which wants a narrow no-break space before it: templates write `{{ _(":") }}`."""
    templates = sorted((CONSOLE / "web" / "templates").glob("*.html"))
    assert templates
    found = [f"{t.name}:{n}" for t in templates for n, line in enumerate(t.read_text(encoding="utf-8").splitlines(), 1) if re.search(r"\}\}\)?: ", line)]
    assert found == []
