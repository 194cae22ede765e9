"""The sessions service: relationships, pair sessions and mini-sessions, attendance, feedback, dashboards."""
