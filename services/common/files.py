"""Local state only its owner may read: TANDEM_HOME and the folders the services make are
0700, the SQLite files (event stores, keys.db) and the generated secrets 0600, whatever the
process's umask."""

import os
from pathlib import Path

# SQLite's companions of a database file: it creates them with the database file's own mode.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: str | Path, *, tighten: bool = True) -> Path:
    """Make the folder (and any missing parent) 0700; with `tighten`, an existing one made
    by an earlier version is narrowed to 0700 too. Folders that are not ours (a parent that
    already exists) are left as they are."""
    path = Path(path)
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700, exist_ok=True)
        _narrow(folder, 0o700)  # mkdir's mode passes through the umask, which may be odd
    if tighten and path not in missing:
        _narrow(path, 0o700)
    return path


def private_sqlite_file(path: str | Path) -> None:
    """Create the SQLite database file empty and 0600 before SQLite opens it (an empty file is
    a valid empty database, and SQLite then makes its -wal and -shm files 0600 too); an
    existing one, and its companions, are narrowed to 0600."""
    path = Path(path)
    private_dir(path.parent, tighten=False)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))
    for file in (path, *(Path(f"{path}{suffix}") for suffix in SQLITE_COMPANIONS)):
        if file.exists():
            _narrow(file, 0o600)


def is_sqlite_file(name: str | None) -> bool:
    """A path to a database file (not ``:memory:``, nor a ``file:`` URI, left to whoever wrote it)."""
    return bool(name) and ":memory:" not in str(name) and not str(name).startswith("file:")


def _narrow(path: Path, mode: int) -> None:
    try:
        if path.stat().st_mode & 0o777 & ~mode:
            path.chmod(mode)
    except PermissionError:  # not ours to change (e.g. a mounted volume's root): leave it
        pass
