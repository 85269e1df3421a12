"""Backup and restore: the database (the vendor's own dump) and the uploaded files, in
one tar archive whose manifest gives the SHA-256 of every member (README, "Backup and
restore").

The archive holds, in this order:

    files/<path under PRIVATE_MEDIA_ROOT>   every file of the private folder
    database/tandem.pgdump                  `pg_dump --format=custom` (PostgreSQL)
    database/tandem.sqlite3                 a copy by SQLite's backup API (SQLite)
    manifest.json                           written last, once every digest is known
                                            (and the audit journal's head: an anchor)

`backup_scheduled` is what beat runs each night (daily and weekly archives, verified,
then the oldest beyond the retention deleted); `backup_restore` loads an archive
beside the current database and switches it in only once it has been checked.

One module per topic, what callers use re-exported here:

    archive      the format (members, manifest), `BackupError`, `archive_verify`
                 and the verified extraction of a member
    contents     what there is to save: file columns, their storage, the tables,
                 one consistent read of row counts and file references
    write        `backup_write`: one archive of the database and the files
    restore      `backup_restore`: loaded beside, checked, then switched in
    schedule     `backup_scheduled`: the nightly archives and their retention
    postgresql   pg_dump in the transaction's snapshot, pg_restore into fresh
                 schemas, the client programs and their environment
    sqlite       a copy by SQLite's backup API, restored to a file beside

A test replacing a name replaces it in the module that uses it.
"""

from workflow.backup.archive import (
    DUMP_MEMBERS,
    FILES_PREFIX,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST,
    BackupError,
    archive_verify,
)
from workflow.backup.contents import (
    DatabaseState,
    FileReference,
    file_fields,
    files_storage,
    model_tables,
)
from workflow.backup.restore import RestoreSummary, backup_restore
from workflow.backup.schedule import SCHEDULED, backup_scheduled
from workflow.backup.write import BackupSummary, backup_write

__all__ = [
    "DUMP_MEMBERS",
    "FILES_PREFIX",
    "FORMAT",
    "FORMAT_VERSION",
    "MANIFEST",
    "SCHEDULED",
    "BackupError",
    "BackupSummary",
    "DatabaseState",
    "FileReference",
    "RestoreSummary",
    "archive_verify",
    "backup_restore",
    "backup_scheduled",
    "backup_write",
    "file_fields",
    "files_storage",
    "model_tables",
]
