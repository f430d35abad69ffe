# the tracking server of docker-compose.yml: MLflow pinned (with its basic-auth app), and the
# PostgreSQL and S3 drivers
FROM python:3.11-slim
RUN pip install --no-cache-dir "mlflow[auth]==3.17.2" "psycopg[binary]==3.3.3" "boto3==1.44.5"
EXPOSE 5000
