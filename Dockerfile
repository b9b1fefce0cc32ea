# syntax=docker/dockerfile:1
# Multi-stage: build wheels once, install them into a slim non-root runtime image.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY api ./api
COPY auth ./auth
COPY models ./models
COPY registry ./registry
COPY migrations ./migrations
COPY search ./search
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    REGISTRY_DATA_DIR=/var/lib/registry \
    HOST=0.0.0.0 \
    PORT=8000
RUN useradd --system --create-home --home-dir /home/registry --uid 10001 registry \
    && mkdir -p /var/lib/registry && chown registry:registry /var/lib/registry
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER registry
WORKDIR /home/registry
VOLUME ["/var/lib/registry"]
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen(f'http://127.0.0.1:{os.environ.get(\"PORT\",\"8000\")}/readyz', timeout=2)" || exit 1
# Without DATABASE_URL the embedded PostgreSQL lives in the volume; set DATABASE_URL in production.
CMD ["registry", "serve"]
