# syntax=docker/dockerfile:1
# The execution service image: `python -m app serve` as a non-root user, fit for a read-only root
# filesystem (only /tmp needs to be writable). BASE_IMAGE must provide python3 (>= 3.11) with venv.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml constraints.txt ./
# Only the runtime dependencies (from pyproject.toml), pinned by constraints.txt; the code is copied later
# so that a code change does not reinstall them.
RUN python3 -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
      > requirements.txt \
 && python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --requirement requirements.txt --constraint constraints.txt \
 && /opt/venv/bin/python -m pip uninstall --yes pip

FROM ${BASE_IMAGE} AS base
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="execution-service" \
      org.opencontainers.image.description="Trade intents in over Redis Streams, orders out on Binance (PAPER/TESTNET/LIVE), one result per intent." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Proprietary"
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    PORT=8002
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY app ./app
USER 10001:10001
EXPOSE 8002
# Exec form: python is PID 1 and receives SIGTERM itself, so it can drain before Kubernetes kills it.
ENTRYPOINT ["python", "-m", "app"]
CMD ["serve"]

# `skaffold dev`: the same image with the code owned by the app user, so file sync can update it in place.
FROM base AS dev
USER 0
RUN chown -R 10001:10001 /app
USER 10001:10001

FROM base AS runtime
