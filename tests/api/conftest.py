"""Enrolment's API, in process, on its real event store: the fixtures are in tests/enrolment_app.py."""

from enrolment_app import app, client, events, start_service, still_serving, tandem_home, world  # noqa: F401 - fixtures
