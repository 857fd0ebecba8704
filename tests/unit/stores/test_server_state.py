"""The local Prefect server's state file: written whole, a garbled one named."""

from __future__ import annotations

import pytest

from pricecast.stores.server_state import ServerState, read_state, write_state


def _state(pid: int) -> ServerState:
    return ServerState(pid=pid, url="http://127.0.0.1:9/api", log="l", started="2020-01-01")


def test_state_round_trips_and_a_garbled_file_names_itself(tmp_path):
    path = tmp_path / "prefect-server" / "server.json"
    assert read_state(path) is None
    write_state(path, _state(123))
    assert read_state(path) == _state(123)
    assert [p.name for p in path.parent.iterdir()] == ["server.json"]  # no temporary left
    path.write_text('{"pid": 1')
    with pytest.raises(ValueError, match=r"server\.json is not a server state file"):
        read_state(path)
