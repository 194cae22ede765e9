"""Integration tests: real broker, real service processes, real HTTP."""

from platform_fixture import platform  # noqa: F401 - the fixture, for every test here
