# inbox-monitor: one process polling X and Facebook, serving /metrics, /healthz and /readyz.
#
#   docker build -t inbox-monitor .
#   docker run --rm -p 9464:9464 -v $PWD/config.toml:/etc/inbox-monitor/config.toml:ro \
#     -e INBOX_MONITOR_CONFIG=/etc/inbox-monitor/config.toml \
#     -e INBOX_MONITOR_DATABASE_URL=postgresql://... inbox-monitor run
#
# In a container the configuration must listen on all interfaces (`[server] listen =
# "0.0.0.0:9464"`) for Prometheus to reach /metrics; the health check calls 127.0.0.1 either way.
# Without INBOX_MONITOR_DATABASE_URL it starts the embedded PostgreSQL in /home/app (a volume keeps
# it): fine to try the image, not for production (docs/operations.md).

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/inbox-monitor
COPY pyproject.toml README.md /src/
COPY monitor /src/monitor
RUN /opt/inbox-monitor/bin/pip install /src

FROM python:3.11-slim
LABEL org.opencontainers.image.title="inbox-monitor" \
      org.opencontainers.image.description="Social inbox response-time monitor: X and Facebook Pages, SLA waits in PostgreSQL, Prometheus metrics" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /home/app --create-home --shell /usr/sbin/nologin app
COPY --from=build /opt/inbox-monitor /opt/inbox-monitor
ENV PATH=/opt/inbox-monitor/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/home/app
USER 10001:10001
WORKDIR /home/app
EXPOSE 9464
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9464/healthz', timeout=4)"]
ENTRYPOINT ["inbox-monitor"]
CMD ["run"]
