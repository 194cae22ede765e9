"""`python -m services.console`: run the web console in this process."""

from services.common.http import serve
from services.console.settings import ConsoleSettings
from services.console.web.main import create_app

if __name__ == "__main__":
    settings = ConsoleSettings()
    serve("console", create_app(settings), settings.host, settings.port)
