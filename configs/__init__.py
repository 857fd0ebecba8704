"""Run configuration: YAML files and the pydantic models that load them."""
