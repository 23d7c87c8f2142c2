# The dispatch image: state and feeds.yaml on the /data volume, run as a non-root user.
FROM python:3.12-slim

RUN useradd --create-home --uid 10001 dispatch
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir .

USER dispatch
WORKDIR /data
VOLUME ["/data"]
ENV DISPATCH_CONFIG=/data/feeds.yaml
ENTRYPOINT ["dispatch"]
CMD ["send"]
