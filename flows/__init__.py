"""Orchestration (Prefect), tracking (MLflow) and the command line."""
