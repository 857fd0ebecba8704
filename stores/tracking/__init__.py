"""MLflow, split by concern.

The store (store.py), runs (runs.py), the registry (registry.py), the GPU-dispatch
boundary (handoff.py) and the live runs of the nightly loop (live.py).
"""
