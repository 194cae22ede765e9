"""The email claims' key: given, in a given file, or generated once (0600) into TANDEM_HOME;
never in an event store."""

import stat
from pathlib import Path

import pytest

from services.common.settings import ServiceSettings, email_claim_secret


def test_the_secret_is_generated_once_into_tandem_home_readable_by_its_owner_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    for name in ("TANDEM_EMAIL_CLAIM_SECRET", "TANDEM_EMAIL_CLAIM_SECRET_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    first = ServiceSettings().claim_secret()  # as `tandem up` makes it before starting the services
    path = tmp_path / "email-claim-secret"
    assert len(first) >= 48 and path.read_text().strip() == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ServiceSettings().claim_secret() == first == email_claim_secret({"TANDEM_HOME": str(tmp_path)}.get)


def test_a_given_secret_or_secret_file_comes_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    given = tmp_path / "mounted"
    given.write_text("from-the-secret-store\n")
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TANDEM_EMAIL_CLAIM_SECRET_FILE", str(given))
    assert ServiceSettings().claim_secret() == "from-the-secret-store"
    monkeypatch.setenv("TANDEM_EMAIL_CLAIM_SECRET", "from-the-environment")
    assert ServiceSettings().claim_secret() == "from-the-environment"
    assert not (tmp_path / "home" / "email-claim-secret").exists()
    given.write_text("")
    with pytest.raises(RuntimeError, match="empty"):
        email_claim_secret({"TANDEM_EMAIL_CLAIM_SECRET_FILE": str(given)}.get)
