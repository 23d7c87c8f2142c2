# The dispatch daemon: feeds.yaml and the state file on the /data volume, run as the user who
# owns that folder (never root; docker/entrypoint.sh), healthy while the scheduler runs and
# the store answers. .dockerignore keeps the build context to what the image needs.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN useradd --create-home --uid 10001 dispatch
WORKDIR /app
COPY pyproject.toml README.md ./
COPY templates ./templates
COPY src ./src
COPY docker/entrypoint.sh /usr/local/bin/dispatch-entrypoint
# The same install as the README's, with the X, Bluesky and PostgreSQL extras. What is installed
# is this project, whose dependency ranges live in pyproject.toml: there is no version to pin.
# hadolint ignore=DL3013
RUN pip install --no-cache-dir ".[x,bluesky,postgresql,apprise]"

# No USER: the entrypoint starts as root only to take the /data folder's owner, then drops to it.
WORKDIR /data
VOLUME ["/data"]
# A dry run's files land in the mounted folder, where the host can open them.
ENV DISPATCH_CONFIG=/data/feeds.yaml \
    DISPATCH_DRY_RUN_DIR=/data/dry-run
EXPOSE 9477
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:9477/healthz', timeout=4).status != 200)"]
STOPSIGNAL SIGTERM
ENTRYPOINT ["dispatch-entrypoint"]
CMD ["run", "--log-format", "json"]
