"""Enrolment's HTTP API."""
