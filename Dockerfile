# One image for every Jumbe node (compose.yaml). The data dir holds only per-node
# files on PostgreSQL (the running server's URL, demo credentials on first start).
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . \
    && useradd --system --home /var/lib/jumbe --create-home jumbe
USER jumbe
ENV JUMBE_DATA_DIR=/var/lib/jumbe
EXPOSE 8000 2775
CMD ["jumbe", "serve"]
