"""`python -m services.matching`: run the matching service (API, consumer and relay) in this process."""

from services.common.http import serve
from services.matching.api.main import create_app
from services.matching.settings import MatchingSettings

if __name__ == "__main__":
    settings = MatchingSettings()
    serve("matching", lambda: create_app(settings), settings.host, settings.port)
