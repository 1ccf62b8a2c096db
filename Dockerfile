# Coherence as a slim, non-root image: `docker compose up` runs it with PostgreSQL.
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY bot bot
COPY pulses pulses
COPY storage storage
COPY sandbox sandbox
COPY benchmarks benchmarks
RUN pip wheel --no-cache-dir --wheel-dir /wheels '.[postgres]'

FROM python:3.11-slim
RUN useradd --create-home --uid 10001 coherence
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels 'coherence[postgres]' \
    && rm -rf /wheels
USER coherence
WORKDIR /home/coherence
ENV PYTHONUNBUFFERED=1 HOST=0.0.0.0 PORT=3000
EXPOSE 3000
# Liveness: /healthz answers while the process runs (restarting it would not bring a database
# back). Point a load balancer's or orchestrator's readiness probe at /readyz: 200 only when the
# database answers and the scheduler ticked within 3 ticks. Both modes serve them on PORT.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '3000')}/healthz\", timeout=4)"]
ENTRYPOINT ["coherence"]
CMD ["serve"]
