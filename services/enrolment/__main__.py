"""`python -m services.enrolment`: run the enrolment service (API and relay) in this process."""

import logging

import uvicorn

from services.enrolment.api.main import create_app
from services.enrolment.settings import EnrolmentSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s enrolment %(levelname)s %(name)s: %(message)s")
    settings = EnrolmentSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
