"""`python -m services.matching`: run the matching service (API, consumer and relay) in this process."""

import logging

import uvicorn

from services.matching.api.main import create_app
from services.matching.settings import MatchingSettings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s matching %(levelname)s %(name)s: %(message)s")
    settings = MatchingSettings()
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info")


if __name__ == "__main__":
    main()
