-- One Postgres, two databases: `prefect` (Prefect server) and `mlflow` (MLflow backend store).
-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER, who owns both. `\gexec` makes it safe if POSTGRES_USER is itself named
-- prefect or mlflow (the image then creates that database before this script runs).
SELECT 'CREATE DATABASE prefect'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'prefect')\gexec
SELECT 'CREATE DATABASE mlflow'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
