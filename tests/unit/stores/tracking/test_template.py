"""The packaged MLflow database: what MLflow makes for a new store, used only when current."""

from __future__ import annotations

import json
import logging
import sqlite3

from mlflow.tracking import MlflowClient

from pricecast.stores import db_template
from pricecast.stores.tracking import store, template


def test_manifest_matches_the_installed_mlflows_migrations():
    made = json.loads(template.TEMPLATE.manifest.read_text())["migrations"]
    assert made == template.migrations_fingerprint(), (
        "MLflow's migrations changed: remake the template with "
        "`python -m pricecast.stores.tracking.template`"
    )


def test_seeded_store_is_what_mlflow_makes_for_a_new_one(tmp_path, sqlite_schema, monkeypatch):
    seeded = tmp_path / "seeded.db"
    assert template.seed(f"sqlite:///{seeded}")
    made = tmp_path / "made.db"
    MlflowClient(tracking_uri=f"sqlite:///{made}").search_experiments()  # MLflow's own tables
    objects, revision = sqlite_schema(seeded)
    assert len(objects) > 50 and len(revision) == 1
    assert (objects, revision) == sqlite_schema(made)
    with sqlite3.connect(seeded) as db:  # tables only: MLflow adds Default when it opens it
        assert db.execute("select count(*) from experiments").fetchone() == (0,)


def test_a_new_home_store_starts_from_the_template(tmp_path, caplog):
    with caplog.at_level(logging.DEBUG, logger=store.log.name):
        tracker = store.open_experiment("seeded", tmp_path)
    assert "started from the packaged template" in caplog.text
    client = MlflowClient(tracking_uri=tracker.uri)
    names = {e.name: e for e in client.search_experiments()}
    assert set(names) == {"Default", "seeded"}
    assert names["seeded"].artifact_location == (tmp_path / "mlartifacts" / "seeded").as_uri()
    run = client.create_run(tracker.experiment_id)
    client.log_metric(run.info.run_id, "rmse", 4.2)
    assert client.get_run(run.info.run_id).data.metrics == {"rmse": 4.2}
    caplog.clear()
    with caplog.at_level(logging.DEBUG, logger=store.log.name):
        store.open_experiment("seeded", tmp_path)  # an existing store is never replaced
    assert "packaged template" not in caplog.text
    assert len(client.search_runs([tracker.experiment_id])) == 1


def test_only_local_sqlite_stores_are_seeded():
    sqlite = db_template.sqlite_file("sqlite:////srv/mlflow.db?timeout=5")
    assert sqlite is not None and sqlite.as_posix() == "/srv/mlflow.db"
    for uri in ("http://127.0.0.1:5000", "postgresql://u@127.0.0.1/mlflow", "sqlite:///:memory:"):
        assert db_template.sqlite_file(uri) is None
        assert not template.seed(uri)
