"""Stores: every place pricecast reads or writes outside the process.

Prices (Yahoo, the parquet cache, CSV files, the bundled sample), run outputs on disk, and
MLflow tracking and registry. Pure steps (``tasks/``, ``models/``) never import from here.
"""
