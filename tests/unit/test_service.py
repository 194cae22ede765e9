"""Each service is one declaration (services/common/service.py); its app and runtime are
built from it the same way for every service."""

import pytest
from fastapi.testclient import TestClient

from contracts.topics import CONSUMES
from services.common.consuming import ConsumingApplication
from services.common.runtime import ServiceRuntime
from services.common.service import Service
from services.enrolment.api.main import SERVICE as ENROLMENT
from services.enrolment.application import EnrolmentApplication
from services.enrolment.publishing import to_integration_event
from services.enrolment.settings import EnrolmentSettings
from services.matching.api.main import SERVICE as MATCHING
from services.sessions.api.main import SERVICE as SESSIONS

SERVICES = (ENROLMENT, MATCHING, SESSIONS)


def test_each_service_reads_the_topics_the_contracts_say() -> None:
    assert [s.name for s in SERVICES] == ["enrolment", "matching", "sessions"]
    for service in SERVICES:
        assert service.consumes == CONSUMES.get(service.name, ())
        assert issubclass(service.application, ConsumingApplication) == bool(service.consumes)


def test_a_service_that_consumes_has_a_consuming_application_and_a_group() -> None:
    declared = {"settings": EnrolmentSettings, "translate": to_integration_event, "routers": (), "title": "t", "description": ""}
    with pytest.raises(TypeError, match="ConsumingApplication"):
        Service(application=EnrolmentApplication, consumes=("matching",), consumer_group=lambda s: "g", **declared)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="consumer group"):
        Service(application=MATCHING.application, consumes=("enrolment",), **declared)  # type: ignore[arg-type]


def test_the_runtime_is_built_from_the_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_TOPIC_PREFIX", "seam")
    runtime = ServiceRuntime.of(MATCHING)
    assert runtime.name == "matching"
    assert runtime.consumes == ["seam.enrolment.events", "seam.sessions.events"]
    assert runtime.settings.consumer_group == "tandem-matching"


def test_the_app_holds_its_application_and_serves_the_shared_routes(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("TANDEM_HOME", str(tmp_path))
    monkeypatch.setenv("TANDEM_SECRET", "s" * 48)
    monkeypatch.setenv("TANDEM_RELAY_ENABLED", "false")
    monkeypatch.setenv("TANDEM_CONSUMER_ENABLED", "false")
    monkeypatch.setenv("PERSISTENCE_MODULE", "eventsourcing.popo")
    from services.sessions.api.main import create_app

    app = create_app()
    assert app.title == SESSIONS.title
    paths = set(app.openapi()["paths"])
    assert {"/healthz", "/audit/replay", "/subsidiaries/{subsidiary_id}/audit/events"} <= paths
    with TestClient(app) as client:
        assert isinstance(client.app.state.application, SESSIONS.application)  # type: ignore[attr-defined]
        health = client.get("/healthz").json()
        assert health["service"] == "sessions" and health["consumer"] == {"ok": True, "enabled": False}


def test_a_runtime_shown_in_a_log_or_a_traceback_does_not_show_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TANDEM_SECRET", "a-token-secret-nobody-may-read-0123456789")
    runtime = ServiceRuntime.of(ENROLMENT)
    assert runtime.settings.secret == "a-token-secret-nobody-may-read-0123456789"
    assert "a-token-secret" not in repr(runtime)
