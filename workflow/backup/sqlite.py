"""SQLite: a copy by SQLite's backup API, and a restore to a file beside the
database, renamed over it once checked."""

import os
import sqlite3
from contextlib import closing, contextmanager
from pathlib import Path

from django.db import DatabaseError, connection

from workflow.backup.archive import BackupError, _extract_verified
from workflow.backup.contents import DatabaseState, _database_state


def _dump_sqlite(destination: Path) -> tuple[DatabaseState, dict]:
    try:
        connection.ensure_connection()
        with closing(sqlite3.connect(destination)) as copy:
            # The backup API copies a consistent state even while others write.
            connection.connection.backup(copy)
            # A standalone file: no -wal beside it to forget when it is restored.
            copy.execute("PRAGMA journal_mode=DELETE")
            cursor = copy.cursor()
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            present = {name for (name,) in cursor.fetchall()}
            state = _database_state(cursor, connection.ops.quote_name, present)
    except (DatabaseError, sqlite3.Error) as error:
        raise BackupError(f"Copie de la base SQLite impossible : {error}") from None
    return state, {
        "server_version": sqlite3.sqlite_version,
        "tool": "sqlite3 backup API",
    }


class _SqliteStaging:
    """The archive's database written to a file beside the target, checked through
    Django's connection pointed at it, then renamed over the target."""

    def __init__(self):
        self.target = Path(connection.settings_dict["NAME"])
        self.staged = self.target.with_name(f".{self.target.name}.restauration")

    def load(self, tar, members, manifest) -> None:
        database = manifest["database"]
        self.target.parent.mkdir(parents=True, exist_ok=True)
        try:
            _extract_verified(
                tar, members[database["member"]], self.staged, database["sha256"]
            )
        except BaseException:
            self.abandon()
            raise

    @contextmanager
    def active(self):
        connection.close()
        connection.settings_dict["NAME"] = str(self.staged)
        try:
            yield
        finally:
            connection.close()
            connection.settings_dict["NAME"] = str(self.target)

    def abandon(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.staged}{suffix}").unlink(missing_ok=True)

    def switch_in(self) -> None:
        connection.close()
        if self.target.exists():
            # What the old file's log still holds goes into it before it is
            # replaced: a log left beside the new file would be replayed into it.
            with closing(sqlite3.connect(self.target)) as old:
                old.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.target}{suffix}").unlink(missing_ok=True)
        os.replace(self.staged, self.target)
        self.abandon()
