"""A consistent copy of the SQLite database, taken while the portal runs.

Copying ``citoyen.db`` with ``cp`` while families book can give a broken
file: the recent writes are still in ``citoyen.db-wal``, and the copy may
catch pages of two different moments. SQLite's backup API copies what one
read transaction sees, so the copy is the database as of one instant; in
WAL mode that read does not stop the writers."""

from __future__ import annotations

import os
import re
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PREFIX = "citoyen-"
SUFFIX = ".db"
_NAME = re.compile(r"citoyen-\d{8}-\d{6}(?:-\d+)?\.db")


class BackupError(Exception):
    """Why no copy was made, in French, for the person running the command."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int
    removed: list[Path]


def backup_sqlite(database: str, directory: str | os.PathLike, now: datetime, keep: int = 0) -> Backup:
    """Copy ``database`` into ``directory`` as ``citoyen-YYYYMMDD-HHMMSS.db``,
    check the copy, then keep only the ``keep`` newest copies (0: all)."""
    source_path = Path(database)
    if not source_path.is_file():
        raise BackupError(f"La base « {source_path} » n'existe pas.")
    target_dir = Path(directory)
    try:
        target_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise BackupError(f"Le dossier « {target_dir} » ne peut pas être créé : {error.strerror}.") from None
    stamp = now.strftime("%Y%m%d-%H%M%S")
    target = target_dir / f"{PREFIX}{stamp}{SUFFIX}"
    number = 1
    while target.exists():
        number += 1
        target = target_dir / f"{PREFIX}{stamp}-{number}{SUFFIX}"
    partial = target.with_name(target.name + ".partiel")
    try:
        # The families' data: readable by the portal's own user only.
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
        try:
            copy = sqlite3.connect(partial)
            try:
                # One step: the whole database as one read transaction sees it.
                source.backup(copy)
                (verdict,) = copy.execute("PRAGMA integrity_check").fetchone()
                # The copy stands alone: no write-ahead log beside it.
                copy.execute("PRAGMA journal_mode=DELETE")
            finally:
                copy.close()
        finally:
            source.close()
        if verdict != "ok":
            raise BackupError(f"La copie n'est pas intègre ({verdict}) : la base doit être vérifiée.")
        os.replace(partial, target)
    except sqlite3.Error as error:
        raise BackupError(f"La copie a échoué : {error}.") from None
    except OSError as error:
        raise BackupError(f"La copie n'a pas pu être écrite dans « {target_dir} » : {error.strerror}.") from None
    finally:
        partial.unlink(missing_ok=True)
    removed = _rotate(target_dir, keep) if keep > 0 else []
    return Backup(target, target.stat().st_size, removed)


def _rotate(directory: Path, keep: int) -> list[Path]:
    """Remove the oldest copies made by this command beyond ``keep``; no other file."""
    copies = sorted(path for path in directory.iterdir() if _NAME.fullmatch(path.name))
    # Names sort by time; on the same second, "-2" sorts after the plain name.
    copies.sort(key=lambda path: (path.name[len(PREFIX):len(PREFIX) + 15], len(path.name), path.name))
    old = copies[:-keep]
    for path in old:
        path.unlink(missing_ok=True)
    return old
