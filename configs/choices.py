"""The closed sets of values a config field takes, shared by the schema and the CLI.

Kept apart from the pydantic models so that the ``forecast`` command can offer them as
choices (``--source``, ``--runner``, ``--dispatch``) without importing pydantic.
"""

from typing import Literal

Source = Literal["auto", "yfinance", "cache", "csv", "sample"]
Cell = Literal["rnn", "lstm", "gru"]
RunnerKind = Literal["threads", "processes", "dask"]
Dispatch = Literal["inprocess", "deployment"]
InputName = Literal[
    "open",
    "high",
    "low",
    "close",
    "adj_close",
    "volume",
    "log_return",
    "log_volume",
    "value",
    "diff",
]
TargetColumn = Literal["open", "high", "low", "close", "adj_close", "value"]
