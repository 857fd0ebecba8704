-- One Postgres, three databases: `prefect` (Prefect server), `mlflow` (MLflow backend store)
-- and `ledger` (the forecast ledger of the nightly loop).
-- Run once by the postgres image on an empty data volume (/docker-entrypoint-initdb.d), as
-- POSTGRES_USER, who owns both. `\gexec` makes it safe if POSTGRES_USER is itself named
-- prefect, mlflow or ledger (the image then creates that database before this script runs).
SELECT 'CREATE DATABASE prefect'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'prefect')\gexec
SELECT 'CREATE DATABASE mlflow'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'mlflow')\gexec
SELECT 'CREATE DATABASE ledger'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'ledger')\gexec
