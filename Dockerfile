# One image for every Tandem service (and the `tandem` command line); the command picks the service.
FROM python:3.11.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A non-root user, and TANDEM_HOME and the wrapping key's folder owned by it (compose mounts
# the tandem-home and tandem-keys volumes there: a new volume takes the directory's owner and mode).
RUN groupadd --system --gid 10001 tandem \
    && useradd --system --uid 10001 --gid tandem --home-dir /home/tandem --create-home tandem \
    && install -d -o tandem -g tandem -m 0700 /var/lib/tandem /var/lib/tandem-keys

WORKDIR /app
COPY pyproject.toml README.md ./
COPY contracts ./contracts
COPY infra ./infra
COPY services ./services
RUN pip install ".[postgres]"

# Numeric, so that an orchestrator can check it is not root (Kubernetes' runAsNonRoot).
USER 10001:10001
ENV TANDEM_HOME=/var/lib/tandem
EXPOSE 8000 8001 8002 8003
CMD ["python", "-m", "services.enrolment"]
