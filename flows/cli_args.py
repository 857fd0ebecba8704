"""How ``forecast`` reads its command line before Typer does.

Two liberties Typer itself does not take: the global flags (``--debug``, ``-v``,
``--version``) work anywhere on the line, and ``--tickers`` takes several values after
one flag.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup

GLOBAL_FLAGS = ("--debug", "-v", "--verbose", "--version")
"""Flags that belong to the whole command, wherever they are written."""


MANY = ("--tickers", "-t")
"""Options that take several values after one flag (``--tickers KO MSFT``)."""


def spread(args: list[str]) -> list[str]:
    """``--tickers A B`` as ``--tickers A --tickers B`` (no command takes bare arguments)."""
    out: list[str] = []
    flag = None
    for arg in args:
        if arg.startswith("-"):
            flag = arg if arg in MANY else None
        elif flag and out[-1] != flag:
            out.append(flag)
        out.append(arg)
    return out


class ArgsGroup(TyperGroup):
    """Moves the global flags in front of the command, so they work anywhere."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # noqa: D102
        cut = args.index("--") if "--" in args else len(args)
        flags = [a for a in args[:cut] if a in GLOBAL_FLAGS]
        rest = spread([a for a in args[:cut] if a not in GLOBAL_FLAGS]) + args[cut:]
        return super().parse_args(ctx, flags + rest)
