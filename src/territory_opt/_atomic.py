"""Atomic output folders: write everything to a temp folder, then rename.

A reader (or a crash) never sees a half-written folder: either the previous
folder is still there untouched, or the complete new one is.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from territory_opt._errors import InputError


def check_output_folder(out: Path, *, force: bool) -> None:
    """Refuse to replace an existing folder unless ``force`` is set.

    Raises
    ------
    InputError
        When ``out`` exists and is a file, or is a non-empty folder without ``force``.
    """
    if out.exists() and not out.is_dir():
        raise InputError.single(str(out), "exists and is a file; choose a folder name")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError.single(
            str(out), "folder exists and is not empty; pass --force to replace it"
        )


@contextlib.contextmanager
def atomic_folder(out: str | Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temp folder that becomes ``out`` only if the block succeeds.

    Parameters
    ----------
    out
        Final folder path.
    force
        Replace an existing non-empty folder.

    Yields
    ------
    Path
        The temp folder to write into (a sibling of ``out`` on the same disk,
        so the final rename is atomic).
    """
    out = Path(out)
    check_output_folder(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is a normal folder
    try:
        yield tmp
        _fsync_tree(tmp)
        if out.exists():
            trash = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            out.replace(trash / out.name)
            tmp.replace(out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.replace(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _fsync_tree(folder: Path) -> None:
    """Flush file contents to disk before the rename makes them visible."""
    for path in folder.rglob("*"):
        if path.is_file():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())


def write_file_atomic(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename.

    Readers see either the old file or the complete new one, never a partial file.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.chmod(0o666 & ~_umask())  # mkstemp makes it private; the result is a normal file
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    """Return the process umask (read by setting it and putting it back)."""
    mask = os.umask(0)
    os.umask(mask)
    return mask
