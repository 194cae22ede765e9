"""`python -m services.sessions`: run the sessions service (API, consumer and relay) in this process."""

from services.common.http import serve
from services.sessions.api.main import create_app
from services.sessions.settings import SessionsSettings

if __name__ == "__main__":
    settings = SessionsSettings()
    serve("sessions", lambda: create_app(settings), settings.host, settings.port)
