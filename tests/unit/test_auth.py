"""Tokens: who may do what, and which tokens are refused."""

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import jwt
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from infra import cli
from services.common.auth import CurrentPrincipal, InvalidToken, Principal, Role, issue_token, verify_token
from services.common.http import create_http_app, serve
from services.common.settings import ConfigurationError, ServiceSettings
from services.enrolment.api.main import create_app as enrolment_app
from services.enrolment.settings import EnrolmentSettings

SECRET = "s" * 48


def test_a_group_admin_reads_and_writes_every_subsidiary():
    principal = verify_token(SECRET, issue_token(SECRET, Role.GROUP_ADMIN))
    assert principal.role is Role.GROUP_ADMIN and principal.subsidiary is None
    assert principal.can_write("a") and principal.can_write("b")


def test_a_subsidiary_admin_is_limited_to_its_subsidiary():
    principal = verify_token(SECRET, issue_token(SECRET, "subsidiary-admin", "axa-fr"))
    assert principal.can_write("axa-fr") and not principal.can_read("axa-be")


def test_an_auditor_reads_but_never_writes():
    everywhere = verify_token(SECRET, issue_token(SECRET, "auditor"))
    one = verify_token(SECRET, issue_token(SECRET, "auditor", "axa-fr"))
    assert everywhere.can_read("axa-be") and not everywhere.can_write("axa-be")
    assert one.can_read("axa-fr") and not one.can_read("axa-be") and not one.can_write("axa-fr")


def test_inconsistent_tokens_are_not_issued():
    with pytest.raises(ValueError):
        issue_token(SECRET, "subsidiary-admin")
    with pytest.raises(ValueError):
        issue_token(SECRET, "group-admin", "axa-fr")
    with pytest.raises(ValueError):
        issue_token(SECRET, "superuser")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(issue_token(SECRET, "group-admin", ttl=timedelta(seconds=-1)), id="expired"),
        pytest.param(issue_token("another secret" * 4, "group-admin"), id="wrong-secret"),
        pytest.param(issue_token(SECRET, "group-admin")[:-3] + "abc", id="tampered-signature"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "exp": 9999999999}, None, algorithm="none"), id="alg-none"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS512"), id="other-algorithm"),
        pytest.param(jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem"}, SECRET, algorithm="HS256"), id="no-expiry"),
        pytest.param(jwt.encode({"sub": "x", "role": "root", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS256"), id="unknown-role"),
        pytest.param(jwt.encode({"sub": "x", "role": "subsidiary-admin", "iss": "tandem", "exp": 9999999999}, SECRET, algorithm="HS256"), id="admin-without-subsidiary"),
        pytest.param("not.a.token", id="garbage"),
    ],
)
def test_bad_tokens_are_refused(token):
    with pytest.raises(InvalidToken):
        verify_token(SECRET, token)


def test_principal_is_plain_data():
    assert Principal("a", Role.AUDITOR) == Principal("a", Role.AUDITOR)


# -- lifetime and secret ------------------------------------------------------------------


def test_a_token_living_longer_than_the_maximum_is_refused_and_one_within_it_accepted():
    assert verify_token(SECRET, issue_token(SECRET, "group-admin", ttl=timedelta(hours=12))).role is Role.GROUP_ADMIN
    with pytest.raises(InvalidToken, match="longer than the maximum of 12 h"):
        verify_token(SECRET, issue_token(SECRET, "group-admin", ttl=timedelta(hours=12, seconds=1)))
    with pytest.raises(InvalidToken):
        verify_token(SECRET, issue_token(SECRET, "group-admin", ttl=timedelta(hours=2)), max_lifetime=timedelta(hours=1))
    # exp far away but iat recent: a year-long token is refused even though it is "valid".
    now = int(time.time())
    long_lived = jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "iat": now, "exp": now + 365 * 86400}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify_token(SECRET, long_lived)


def test_a_token_without_its_issue_time_is_refused():
    no_iat = jwt.encode({"sub": "x", "role": "group-admin", "iss": "tandem", "exp": int(time.time()) + 60}, SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken, match="iat"):
        verify_token(SECRET, no_iat)


def _service(max_lifetime: timedelta | None = None, secret: str = SECRET) -> TestClient:
    router = APIRouter()

    @router.get("/me")
    def me(principal: CurrentPrincipal) -> dict[str, str]:
        return {"subject": principal.subject}

    extra = {"token_max_lifetime": max_lifetime} if max_lifetime else {}
    return TestClient(create_http_app(title="t", description="", version="1", token_secret=secret, max_body_bytes=1024, routers=[router], **extra))


def test_a_service_answers_401_to_a_token_beyond_its_maximum_lifetime():
    client = _service(timedelta(hours=1))
    bearer = lambda ttl: {"Authorization": f"Bearer {issue_token(SECRET, 'group-admin', ttl=ttl)}"}  # noqa: E731
    assert client.get("/me", headers=bearer(timedelta(minutes=59))).status_code == 200
    refused = client.get("/me", headers=bearer(timedelta(hours=2)))
    assert refused.status_code == 401 and "longer than the maximum" in refused.json()["detail"]


def test_the_maximum_lifetime_is_a_setting(monkeypatch: pytest.MonkeyPatch):
    assert ServiceSettings().token_max_lifetime == timedelta(hours=12)
    monkeypatch.setenv("TANDEM_TOKEN_MAX_HOURS", "1.5")
    assert ServiceSettings().token_max_lifetime == timedelta(minutes=90)


def test_a_secret_shorter_than_32_bytes_is_refused_naming_the_setting_not_the_value(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    weak = "short-but-not-32-bytes!"
    with pytest.raises(ConfigurationError) as refused:
        ServiceSettings(TANDEM_SECRET=weak, TANDEM_HOME=tmp_path).token_secret()
    assert "TANDEM_SECRET" in str(refused.value) and "32 bytes" in str(refused.value) and weak not in str(refused.value)
    assert ServiceSettings(TANDEM_SECRET="x" * 32, TANDEM_HOME=tmp_path).token_secret() == "x" * 32
    with pytest.raises(ConfigurationError):
        _service(secret=weak)  # however the app is built
    # A service started with it stops at once with the message (exit code 2), never listening.
    with pytest.raises(SystemExit) as stopped:
        serve("enrolment", lambda: enrolment_app(EnrolmentSettings(TANDEM_SECRET=weak, TANDEM_HOME=tmp_path)), "127.0.0.1", 1)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "enrolment cannot start: TANDEM_SECRET is shorter than 32 bytes" in err and weak not in err


def test_a_short_secret_file_is_refused_too(tmp_path: Path):
    (tmp_path / "secret").write_text("tiny\n")
    with pytest.raises(ConfigurationError, match="secret file"):
        ServiceSettings(TANDEM_HOME=tmp_path).token_secret()
    assert len(ServiceSettings(TANDEM_HOME=tmp_path / "new").token_secret().encode()) >= 32  # the generated one


def test_tandem_token_prints_the_bare_token_on_stdout_and_its_expiry_on_stderr(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    monkeypatch.delenv("TANDEM_SECRET", raising=False)
    monkeypatch.delenv("TANDEM_TOKEN_MAX_HOURS", raising=False)
    assert cli.main(["token", "--role", "auditor", "--ttl-hours", "2"]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert "\n" not in token and token.count(".") == 2
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 2 * 3600
    expires = datetime.fromtimestamp(claims["exp"], timezone.utc)
    assert err.startswith("expires ") and f"{expires:%Y-%m-%d %H:%M:%S} UTC" in err and "(in 2.0 h)" in err
    assert cli.main(["token", "--role", "auditor"]) == 0  # the default: 12 h
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 12 * 3600


def test_tandem_token_refuses_a_lifetime_the_services_would_refuse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]):
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    monkeypatch.delenv("TANDEM_SECRET", raising=False)
    monkeypatch.setenv("TANDEM_TOKEN_MAX_HOURS", "4")
    with pytest.raises(SystemExit) as refused:
        cli.main(["token", "--role", "group-admin", "--ttl-hours", "5"])
    assert refused.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and "TANDEM_TOKEN_MAX_HOURS is 4" in err
    assert cli.main(["token", "--role", "group-admin"]) == 0  # the default shrinks to the maximum
    claims = jwt.decode(capsys.readouterr().out.strip(), options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 4 * 3600
    monkeypatch.setenv("TANDEM_SECRET", "too-short")
    assert cli.main(["token", "--role", "group-admin"]) == 2
    assert "TANDEM_SECRET is shorter than 32 bytes" in capsys.readouterr().err
