"""A migrated, empty MLflow database that a new local store starts from.

MLflow creates a new SQLite store by creating its first tables and running every
Alembic migration after them (69 in MLflow 3.17): 1.5 s on a quiet machine, and 4–8 s
when it shares the two cores with TensorFlow's import and the Prefect API's start, as it
does in a fresh home's first ``forecast run``. The package ships the result
(``templates/mlflow.db.gz``) and a new local store starts from a copy
(``stores/db_template.py``), under the store's first-use lock. It holds tables only:
MLflow creates its ``Default`` experiment itself, dated and placed for this store, the
first time it opens it.

The copy is used only when the installed MLflow ships the migrations that made it;
otherwise MLflow migrates as it always does. ``python -m
pricecast.stores.tracking.template`` remakes it after an MLflow upgrade.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from pricecast.stores import db_template

TEMPLATE = db_template.Template(Path(__file__).parents[1] / "templates" / "mlflow.db.gz")


def migrations_fingerprint() -> str:
    """A hash of the installed MLflow's migration file names (one listing, no import)."""
    import importlib.util

    spec = importlib.util.find_spec("mlflow")
    if spec is None or spec.origin is None:
        return ""
    return db_template.fingerprint(Path(spec.origin).parent / "store/db_migrations/versions")


def seed(uri: str) -> bool:
    """Start the local store at ``uri`` from the template, if its file does not exist yet.

    Returns:
        True if the store's file now holds a copy of the template.
    """
    return db_template.seed(TEMPLATE, db_template.sqlite_file(uri), migrations_fingerprint)


def build() -> Path:
    """Make an empty store's tables with the installed MLflow and keep them as the template."""
    import mlflow
    from mlflow.store.db.utils import _initialize_tables, create_sqlalchemy_engine

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "mlflow.db"
        engine = create_sqlalchemy_engine(f"sqlite:///{database}")
        try:
            _initialize_tables(engine)  # what a new SqlAlchemyStore runs, without Default
        finally:
            engine.dispose()
        manifest = {"mlflow": mlflow.__version__, "migrations": migrations_fingerprint()}
        return db_template.save(database, TEMPLATE, manifest)


if __name__ == "__main__":
    print(build())
