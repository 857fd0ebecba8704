"""Temporary files for atomic writes, created with the permissions the umask allows.

``tempfile.mkstemp`` always creates files with mode 0600, and the rename that publishes
them keeps that mode: on a shared output volume nobody else could read the results.
These files are created as ``open()`` creates a new file (0666 less the umask).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def temp_file(folder: Path, name: str) -> tuple[int, Path]:
    """Create a new, empty, uniquely named file ``folder/.<name>.<random>.tmp``.

    Args:
        folder: Where the file is created (the folder of the file it will replace, so
            the final rename stays on one file system).
        name: The final file's name, kept in the temporary name for whoever lists it.

    Returns:
        An open write-only descriptor and the path.

    Raises:
        OSError: If the file cannot be created.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        path = folder / f".{name}.{secrets.token_hex(6)}.tmp"
        try:
            return os.open(path, flags, 0o666), path
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {name} in {folder}")
