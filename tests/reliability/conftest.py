"""Reliability and security: faults, load, hostile input, tenant isolation. Each test is
bounded in time and in count, and sends traffic to loopback only."""

import pytest

from enrolment_app import start_service, tandem_home  # noqa: F401 - fixtures: enrolment in process
from platform_fixture import platform  # noqa: F401 - fixtures: the platform's processes


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/reliability/" in str(item.path):
            item.add_marker(pytest.mark.integration)
