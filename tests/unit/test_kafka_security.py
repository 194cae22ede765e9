"""How every Kafka client connects (KAFKA_SECURITY_PROTOCOL and the SASL and SSL settings):
what kafka-python is given, and a setup that cannot work refused at start, each setting named
and no secret shown."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.common.kafka import kafka_security
from services.common.settings import ConfigurationError

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-scram-password"


@pytest.fixture(autouse=True)
def no_kafka_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("KAFKA_SECURITY", "KAFKA_SASL", "KAFKA_SSL")):
            monkeypatch.delenv(name)


def test_plaintext_is_the_default():
    assert kafka_security() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_with_scram_gives_the_password_from_its_file_and_the_ca(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "password").write_text(PASSWORD + "\n")
    (tmp_path / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\n")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "enrolment")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(tmp_path / "password"))
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "ca.pem"))
    assert kafka_security() == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "enrolment",
        "sasl_plain_password": PASSWORD,
        "ssl_cafile": str(tmp_path / "ca.pem"),
        "ssl_certfile": None,
        "ssl_keyfile": None,
        "ssl_password": None,
        "ssl_check_hostname": True,
    }


def test_sasl_without_its_settings_names_each_missing_one(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    with pytest.raises(ConfigurationError) as refused:
        kafka_security()
    message = str(refused.value)
    for setting in ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
        assert setting in message


def test_settings_that_the_protocol_would_ignore_are_refused_without_showing_a_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    (tmp_path / "client.pem").write_text("cert")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", PASSWORD)  # with PLAINTEXT: would be silently unused
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", str(tmp_path / "client.pem"))  # and without its key
    with pytest.raises(ConfigurationError) as refused:
        kafka_security()
    message = str(refused.value)
    assert "KAFKA_SASL_* settings are given" in message
    assert "KAFKA_SSL_* files are given" in message
    assert "KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together" in message
    assert PASSWORD not in message


def test_a_file_that_is_not_there_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "missing-ca.pem"))
    with pytest.raises(ConfigurationError, match="KAFKA_SSL_CAFILE names no readable file"):
        kafka_security()


def test_a_service_set_up_wrong_does_not_start_and_says_why(tmp_path: Path):
    env = {
        **os.environ, "PYTHONPATH": str(ROOT), "TANDEM_HOME": str(tmp_path), "TANDEM_SECRET": "x" * 48,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "KAFKA_SASL_PASSWORD": PASSWORD,
    }  # fmt: skip
    started = subprocess.run([sys.executable, "-m", "services.enrolment"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 2, started.stderr
    assert "KAFKA_SASL_MECHANISM" in started.stderr and "KAFKA_SASL_USERNAME" in started.stderr
    assert PASSWORD not in started.stderr + started.stdout
