# MLflow tracking server. The stock ghcr.io/mlflow/mlflow image has neither a Postgres
# driver nor boto3, which the compose stack needs (Postgres backend store, MinIO/S3
# artifacts), so the server is built here. Build context: the repository root.
FROM python:3.11.13-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# Same MLflow minor as the project's clients (pyproject: mlflow==3.17.*).
# The [auth] extra: the basic-auth app (`mlflow server --app-name basic-auth`).
RUN pip install "mlflow[auth]==3.17.*" "psycopg2-binary==2.9.*" "boto3>=1.34,<2"

RUN useradd --system --uid 10001 --create-home --home-dir /home/mlflow mlflow \
    && mkdir /home/mlflow/auth && chown mlflow /home/mlflow/auth
USER mlflow
WORKDIR /home/mlflow
EXPOSE 5000

# The compose file supplies the command (stores, allowed hosts); this is only a default.
CMD ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000"]
