"""The archive's format (members, manifest), the error of backup and restore, the
check of a whole archive against its manifest, the verified extraction of a member."""

import hashlib
import json
import os
import tarfile
import tempfile
import tomllib
from pathlib import Path, PurePosixPath

from django.conf import settings

FORMAT = "tandem-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
FILES_PREFIX = "files/"
DUMP_MEMBERS = {
    "postgresql": "database/tandem.pgdump",
    "sqlite": "database/tandem.sqlite3",
}
_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or a restore that cannot be done; the message says why, in French."""


def _silent(message: str) -> None:
    """Default progress reporter: say nothing."""


def _tandem_version() -> str:
    try:
        with (Path(settings.BASE_DIR) / "pyproject.toml").open("rb") as pyproject:
            return tomllib.load(pyproject)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "inconnue"


# --- archive checks -------------------------------------------------------------------


def archive_verify(archive: Path) -> dict:
    """Read the archive's manifest and check every member's size and SHA-256 against
    it; touches nothing outside the archive. Return the manifest."""
    if not archive.is_file():
        raise BackupError(f"Archive introuvable : {archive}")
    try:
        with tarfile.open(archive, "r:") as tar:
            members = _archive_members(tar)
            manifest = _read_manifest(tar, members)
            expected = _expected_members(manifest)
            extra = sorted(set(members) - set(expected) - {MANIFEST})
            absent = sorted(set(expected) - set(members))
            if extra or absent:
                raise BackupError(
                    "Archive corrompue : "
                    + "; ".join(
                        [f"absent de l'archive : {name}" for name in absent]
                        + [f"inconnu du manifeste : {name}" for name in extra]
                    )
                )
            for name, (size, digest) in expected.items():
                member = members[name]
                if member.size != size:
                    raise BackupError(
                        f"Archive corrompue : {name} fait {member.size} octets, le "
                        f"manifeste en annonce {size}."
                    )
                if _member_sha256(tar, member) != digest:
                    raise BackupError(
                        f"Archive corrompue : {name} n'a pas l'empreinte SHA-256 "
                        "du manifeste."
                    )
    except (tarfile.TarError, OSError, EOFError) as error:
        raise BackupError(f"Archive illisible ({archive}) : {error}") from None
    return manifest


def _archive_members(tar: tarfile.TarFile) -> dict[str, tarfile.TarInfo]:
    members = {}
    for member in tar.getmembers():
        if not member.isreg():
            raise BackupError(
                f"Archive corrompue : {member.name} n'est pas un fichier ordinaire."
            )
        if member.name in members:
            raise BackupError(f"Archive corrompue : {member.name} y figure deux fois.")
        members[member.name] = member
    return members


def _read_manifest(tar: tarfile.TarFile, members: dict) -> dict:
    if MANIFEST not in members:
        raise BackupError(f"Archive corrompue : pas de {MANIFEST}.")
    try:
        manifest = json.loads(tar.extractfile(members[MANIFEST]).read())
    except (ValueError, UnicodeDecodeError) as error:
        raise BackupError(f"Manifeste illisible : {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("Ce n'est pas une sauvegarde de Tandem (manifeste inconnu).")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise BackupError(
            f"Format de sauvegarde {manifest.get('format_version')!r} non pris en "
            f"charge (cette version de Tandem lit le format {FORMAT_VERSION})."
        )
    if not isinstance(manifest.get("versions", {}), dict) or not isinstance(
        manifest.get("created_at", ""), str
    ):
        raise BackupError("Manifeste invalide : versions ou date incorrectes.")
    database = manifest.get("database")
    if (
        not isinstance(database, dict)
        or database.get("vendor") not in DUMP_MEMBERS
        or database.get("member") != DUMP_MEMBERS[database["vendor"]]
        or not _is_size(database.get("size"))
        or not _is_sha256(database.get("sha256"))
    ):
        raise BackupError("Manifeste invalide : description de la base incorrecte.")
    tables = manifest.get("tables")
    if not isinstance(tables, dict) or not all(
        isinstance(name, str) and _is_size(count) for name, count in tables.items()
    ):
        raise BackupError("Manifeste invalide : comptes de lignes incorrects.")
    head = manifest.get("audit")
    if head is not None and (
        not isinstance(head, dict)
        or not _is_size(head.get("seq"))
        or not _is_sha256(head.get("hash"))
    ):
        raise BackupError("Manifeste invalide : ancre du journal d'audit incorrecte.")
    files = manifest.get("files")
    if not isinstance(files, list):
        raise BackupError("Manifeste invalide : liste des fichiers absente.")
    for entry in files:
        if (
            not isinstance(entry, dict)
            or not isinstance(entry.get("path"), str)
            or _safe_relative(entry["path"]) != entry["path"]
            or not _is_size(entry.get("size"))
            or not _is_sha256(entry.get("sha256"))
        ):
            raise BackupError(f"Manifeste invalide : fichier {entry!r}.")
    return manifest


def _expected_members(manifest: dict) -> dict[str, tuple[int, str]]:
    """Member name → (size, SHA-256) for the dump and every file of the manifest."""
    database = manifest["database"]
    expected = {database["member"]: (database["size"], database["sha256"])}
    for entry in manifest["files"]:
        name = FILES_PREFIX + entry["path"]
        if name in expected:
            raise BackupError(
                f"Manifeste invalide : {entry['path']} y figure deux fois."
            )
        expected[name] = (entry["size"], entry["sha256"])
    return expected


def _member_sha256(tar: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    digest = hashlib.sha256()
    source = tar.extractfile(member)
    while chunk := source.read(_CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _safe_relative(path: str) -> str | None:
    """`path` as a plain relative POSIX path inside a folder, or None if it is not
    one (absolute, `..`, empty parts, backslashes)."""
    if not path or "\\" in path or "\x00" in path:
        return None
    pure = PurePosixPath(path)
    if pure.is_absolute() or any(part in {"", ".", ".."} for part in pure.parts):
        return None
    return pure.as_posix()


def _is_size(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_sha256(value) -> bool:
    return (
        isinstance(value, str)
        and len(value) == 64
        and all(c in "0123456789abcdef" for c in value)
    )


# --- reading a member -----------------------------------------------------------------


def _extract_verified(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    destination: Path,
    sha256: str,
    *,
    mode: int = 0o640,
) -> None:
    """Write `member` to `destination` through a temporary file beside it, keeping it
    only if its SHA-256 is still the expected one."""
    handle, temporary = tempfile.mkstemp(
        dir=destination.parent, prefix=f".{destination.name}.", suffix=".part"
    )
    try:
        digest = hashlib.sha256()
        with os.fdopen(handle, "wb") as out:
            source = tar.extractfile(member)
            while chunk := source.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise BackupError(
                f"{member.name} a changé depuis la vérification de l'archive."
            )
        os.chmod(temporary, mode)
        os.replace(temporary, destination)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
