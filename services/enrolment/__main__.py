"""`python -m services.enrolment`: run the enrolment service (API and relay) in this process."""

from services.common.http import serve
from services.enrolment.api.main import create_app
from services.enrolment.settings import EnrolmentSettings

if __name__ == "__main__":
    settings = EnrolmentSettings()
    serve("enrolment", lambda: create_app(settings), settings.host, settings.port)
