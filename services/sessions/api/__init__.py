"""Sessions' HTTP API."""
