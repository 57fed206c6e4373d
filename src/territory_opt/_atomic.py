"""Atomic output folders: write everything to a temp folder, then rename.

A reader (or a crash) never sees a half-written folder: either the previous
folder is still there untouched, or the complete new one is.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import sys
import tempfile
import time
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

    Notes
    -----
    An existing folder is swapped with the new one in one step where the
    system allows it (Linux ``renameat2(RENAME_EXCHANGE)``); elsewhere it is
    moved aside first, which leaves a window of two renames. Temp folders that
    a killed process left behind (``.<name>.tmp-<pid>-*``) are removed by the
    next write of the same folder.
    """
    out = Path(out)
    check_output_folder(out, force=force)
    out.parent.mkdir(parents=True, exist_ok=True)
    clean_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-{os.getpid()}-", dir=out.parent))
    tmp.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the result is a normal folder
    try:
        yield tmp
        _fsync_tree(tmp)
        if out.exists():
            if _exchange(tmp, out):  # tmp now holds the previous folder
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                prefix = f".{out.name}.old-{os.getpid()}-"
                trash = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
                out.replace(trash / out.name)
                tmp.replace(out)
                shutil.rmtree(trash, ignore_errors=True)
        else:
            tmp.replace(out)
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


@contextlib.contextmanager
def update_folder(folder: str | Path) -> Iterator[Path]:
    """Change files of an existing folder all at once.

    Yields a temp copy of ``folder``; when the block succeeds the copy replaces
    the folder in one step (see :func:`atomic_folder`), so a reader (or a crash)
    sees either every change or none, e.g. a new ``quotas.csv`` together with
    the ``plan.json`` that records its hash.

    Raises
    ------
    InputError
        When ``folder`` is not an existing folder.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError.single(str(folder), "is not an existing folder")
    with atomic_folder(folder, force=True) as tmp:
        shutil.copytree(folder, tmp, symlinks=True, dirs_exist_ok=True)
        yield tmp


#: ``.<name>.tmp-<pid>-<random>`` and ``.<name>.old-<pid>-<random>``.
_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-(?:(?P<pid>\d+)-)?[^.]*$")
#: Temp folders without a process id (older versions) count as abandoned after this [s].
STALE_SECONDS = 3600.0


def clean_stale(out: str | Path) -> list[Path]:
    """Remove temp folders of ``out`` left behind by killed processes; return them.

    A temp folder is abandoned when the process that made it (its name holds
    the process id) no longer runs. If a process died between the two renames
    of the fallback swap, the previous folder is put back in place.
    """
    out = Path(out)
    removed: list[Path] = []
    if not out.parent.is_dir():
        return removed
    for path in sorted(out.parent.iterdir()):
        match = _TEMP_NAME.match(path.name)
        if match is None or match["name"] != out.name or not path.is_dir():
            continue
        pid = match["pid"]
        if pid is not None and _alive(int(pid)):
            continue
        if pid is None and time.time() - path.stat().st_mtime < STALE_SECONDS:
            continue
        previous = path / out.name
        if match["kind"] == "old" and previous.is_dir() and not out.exists():
            previous.replace(out)
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Return True when a process with this id runs (or cannot be checked)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. another user's process: assume it is alive
        return True
    return True


#: renameat2 flag that swaps two paths atomically (Linux >= 3.15).
_RENAME_EXCHANGE = 2
#: "Relative to the current folder" for the *at() system calls.
_AT_FDCWD = -100


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one step; False when the system or file system cannot."""
    if sys.platform != "linux":
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    renameat2.restype = ctypes.c_int
    code = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    return code == 0


def _fsync_dir(folder: Path) -> None:
    """Flush a folder's entries (the rename) to disk, where the system allows it."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


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
