"""PostgreSQL: pg_dump in the snapshot of the backup's transaction, pg_restore into
fresh schemas beside the current ones, and the client programs' environment."""

import os
import shutil
import subprocess
import tempfile
from contextlib import nullcontext
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from workflow.backup.archive import BackupError, _extract_verified
from workflow.backup.contents import DatabaseState, _database_state

# libpq reads these from the environment: pg_dump and pg_restore get the connection
# of settings.DATABASES through them, never a password on their command line.
_PG_SETTINGS = {
    "HOST": "PGHOST",
    "PORT": "PGPORT",
    "USER": "PGUSER",
    "PASSWORD": "PGPASSWORD",
    "NAME": "PGDATABASE",
}
_PG_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "connect_timeout": "PGCONNECT_TIMEOUT",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "passfile": "PGPASSFILE",
    "service": "PGSERVICE",
}
_PG_INHERITED = {
    *_PG_SETTINGS.values(),
    *_PG_OPTIONS.values(),
    "PGHOSTADDR",
    "PGSERVICEFILE",
}


def _dump_postgresql(destination: Path) -> tuple[DatabaseState, dict]:
    pg_dump = _client_program("pg_dump")
    if connection.in_atomic_block:
        raise BackupError(
            "La sauvegarde ouvre sa propre transaction : lancez-la hors de toute "
            "transaction."
        )
    try:
        # One snapshot for everything: pg_dump dumps what this transaction sees, and
        # the row counts and file references are read in it too.
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cursor.execute(
                "SELECT pg_export_snapshot(), current_setting('server_version')"
            )
            snapshot, server_version = cursor.fetchone()
            _run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={destination}",
                ],
                env=_pg_environment(connection.settings_dict),
                what="pg_dump",
            )
            present = set(connection.introspection.table_names(cursor))
            state = _database_state(cursor, connection.ops.quote_name, present)
    except DatabaseError as error:
        raise BackupError(
            f"Lecture de la base PostgreSQL impossible : {error}"
        ) from None
    return state, {
        "server_version": server_version,
        "tool": _program_version(pg_dump),
        "dump_format": "pg_dump --format=custom --no-owner --no-privileges",
    }


class _PostgresqlStaging:
    """The archive's dump restored into fresh schemas, the current ones renamed
    aside (`<schema>_avant_restauration_<date>`) until the switch."""

    def __init__(self):
        self.renamed: list[tuple[str, str]] = []

    def load(self, tar, members, manifest) -> None:
        pg_restore = _client_program("pg_restore")
        database = manifest["database"]
        with tempfile.TemporaryDirectory(prefix="tandem-restauration-") as work:
            dump = Path(work) / "tandem.pgdump"
            _extract_verified(
                tar, members[database["member"]], dump, database["sha256"]
            )
            environment = _pg_environment(connection.settings_dict)
            # Before changing anything: this pg_restore can read this dump.
            _run([pg_restore, "--list", str(dump)], env=environment, what="pg_restore")
            self._set_aside()
            try:
                connection.close()
                _run(
                    [
                        pg_restore,
                        "--no-owner",
                        "--no-privileges",
                        "--single-transaction",
                        "--exit-on-error",
                        f"--dbname={connection.settings_dict['NAME']}",
                        str(dump),
                    ],
                    env=environment,
                    what="pg_restore",
                )
            except BaseException:
                self.abandon()
                raise

    def _set_aside(self) -> None:
        """Rename the schemas of the search path aside and create empty ones in
        their place, in one transaction."""
        stamp = f"{timezone.localtime():%Y%m%d%H%M%S}"
        quote = connection.ops.quote_name
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT name, pg_get_userbyid(n.nspowner) FROM "
                    "unnest(current_schemas(false)) AS name "
                    "JOIN pg_namespace n ON n.nspname = name"
                )
                schemas = cursor.fetchall()
                for schema, owner in schemas:
                    aside = f"{schema[:30]}_avant_restauration_{stamp}"
                    cursor.execute(
                        f"ALTER SCHEMA {quote(schema)} RENAME TO {quote(aside)}"
                    )
                    cursor.execute(f"CREATE SCHEMA {quote(schema)}")
                    self._give(cursor, schema, owner)
                    self.renamed.append((schema, aside))
        except DatabaseError as error:
            self.renamed = []
            raise BackupError(
                f"Impossible de mettre la base actuelle de côté : {error}"
            ) from None

    @staticmethod
    def _give(cursor, schema: str, owner: str) -> None:
        """The new schema belongs to the old one's owner when this role may say so
        (pg_database_owner for `public`); else to the restoring role."""
        quote = connection.ops.quote_name
        try:
            with transaction.atomic():
                cursor.execute(f"ALTER SCHEMA {quote(schema)} OWNER TO {quote(owner)}")
        except DatabaseError:
            pass

    def active(self):
        # The restored schemas have the names of the search path: nothing to do.
        return nullcontext()

    def abandon(self) -> None:
        """Drop what was restored and give the old schemas their names back."""
        if not self.renamed:
            return
        quote = connection.ops.quote_name
        connection.close()
        try:
            with transaction.atomic(durable=True), connection.cursor() as cursor:
                for schema, aside in self.renamed:
                    cursor.execute(f"DROP SCHEMA IF EXISTS {quote(schema)} CASCADE")
                    cursor.execute(
                        f"ALTER SCHEMA {quote(aside)} RENAME TO {quote(schema)}"
                    )
        except DatabaseError as error:
            kept = ", ".join(
                f"{aside} (pour {schema})" for schema, aside in self.renamed
            )
            raise BackupError(
                f"Restauration échouée et base actuelle non remise en place "
                f"({error}) : elle est intacte sous le nom {kept} ; renommez-la "
                "(ALTER SCHEMA … RENAME TO …) après avoir supprimé la nouvelle."
            ) from None
        self.renamed = []

    def switch_in(self) -> None:
        """The restored schemas are already in place: drop the old ones (their rows
        go with them, no DELETE: the append-only audit table refuses it)."""
        quote = connection.ops.quote_name
        with transaction.atomic(durable=True), connection.cursor() as cursor:
            for _schema, aside in self.renamed:
                cursor.execute(f"DROP SCHEMA {quote(aside)} CASCADE")
        self.renamed = []


# --- PostgreSQL client programs -------------------------------------------------------


def _client_program(name: str) -> str:
    program = shutil.which(name)
    if program is None:
        raise BackupError(
            f"{name} est introuvable : installez les outils clients PostgreSQL "
            "(paquet postgresql-client, de la version du serveur ou plus récente)."
        )
    return program


def _pg_environment(settings_dict: dict) -> dict[str, str]:
    """The environment for pg_dump / pg_restore: this connection and no other."""
    environment = {
        name: value for name, value in os.environ.items() if name not in _PG_INHERITED
    }
    for key, variable in _PG_SETTINGS.items():
        if settings_dict.get(key):
            environment[variable] = str(settings_dict[key])
    for option, variable in _PG_OPTIONS.items():
        if settings_dict.get("OPTIONS", {}).get(option) is not None:
            environment[variable] = str(settings_dict["OPTIONS"][option])
    return environment


def _program_version(program: str) -> str:
    try:
        result = subprocess.run(  # noqa: S603 - a PostgreSQL client found on PATH
            [program, "--version"], capture_output=True, text=True, check=False
        )
    except OSError:
        return "inconnue"
    return result.stdout.strip() or "inconnue"


def _run(command: list[str], *, env: dict[str, str], what: str) -> None:
    try:
        # A fixed program; the connection goes through the environment, no shell.
        result = subprocess.run(  # noqa: S603
            command, env=env, capture_output=True, text=True, check=False
        )
    except OSError as error:
        raise BackupError(f"{what} n'a pas pu être lancé : {error}") from None
    if result.returncode != 0:
        raise BackupError(
            f"{what} a échoué (code {result.returncode}) : {result.stderr.strip()}"
        )
