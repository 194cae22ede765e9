# One image for every Tandem service; the command picks the service.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY infra ./infra
COPY services ./services
RUN pip install ".[postgres]" \
    && useradd --system --uid 10001 --home-dir /home/tandem --create-home tandem

USER tandem
ENV TANDEM_HOME=/home/tandem
CMD ["python", "-m", "services.enrolment"]
