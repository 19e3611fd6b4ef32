"""Output folders and files that never destroy what nanocloak did not write.

The rules (docs/output.md):
- every command that writes a folder leaves a manifest (`nanocloak-manifest.json`) listing the files
  it wrote;
- into a new or empty folder it writes freely; into a folder holding a nanocloak manifest it
  replaces the files listed there and removes listed files the new run no longer makes; every
  file not listed stays untouched;
- into any other non-empty folder it refuses unless `force`, which writes beside the other files,
  still deletes nothing it did not write, and refuses to replace a file of the same name;
- files are staged in a hidden temporary folder inside the target (same file system, so moving
  them in is a rename); a failure removes the staging folder and leaves the target as it was;
- staging folders carry a marker file holding an advisory lock while in use; only unlocked ones
  older than an hour are cleaned, so a killed run leaves no debris for long and a running one is
  never touched;
- a single-file output (`export-sbml -o`, `calibrate --out`, `validate --write`) carries a
  `nanocloak-generated` mark and never replaces a file without that mark unless `force`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterator

from nanocloak.errors import NanocloakError

MANIFEST_NAME = "nanocloak-manifest.json"
MANIFEST_FORMAT = 1
GENERATED_MARK = "nanocloak-generated"
STAGING_PREFIX = ".nanocloak-tmp-"
STAGING_MARKER = ".nanocloak-staging"
STALE_AFTER_S = 3600.0
MARK_SEARCH_BYTES = 4096


class OutputError(NanocloakError):
    """An output location nanocloak will not write to (it would replace or delete a user's file)."""


# ---------------------------------------------------------------------------------------------
# the manifest
# ---------------------------------------------------------------------------------------------
def read_manifest(folder: Path) -> dict | None:
    """The folder's nanocloak manifest, or None when it has none."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise OutputError(f"{path}: unreadable nanocloak manifest; move it away or choose another --out") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("files"), list):
        raise OutputError(f"{path}: not a nanocloak manifest; choose another --out")
    return doc


def _manifest_files(doc: dict | None) -> set[str]:
    if doc is None:
        return set()
    return {str(item) for item in doc["files"] if isinstance(item, str) and _is_safe_relative(item)}


def _is_safe_relative(rel: str) -> bool:
    p = Path(rel)
    return not p.is_absolute() and ".." not in p.parts and rel not in ("", ".")


def _write_manifest(folder: Path, command: str, files: set[str]) -> None:
    from nanocloak.version import __version__

    doc = {"nanocloak_manifest": MANIFEST_FORMAT, "command": command, "nanocloak_version": __version__,
           "written_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "files": sorted(files)}
    write_file_atomic(folder / MANIFEST_NAME, json.dumps(doc, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------
# staging folders: marked, locked while used, cleaned when stale
# ---------------------------------------------------------------------------------------------
def _is_unlocked(marker: Path) -> bool:
    try:
        with open(marker, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return False
            fcntl.flock(fh, fcntl.LOCK_UN)
            return True
    except OSError:
        return False


def clean_stale_staging(folder: Path, now: float | None = None) -> list[Path]:
    """Remove nanocloak staging folders in `folder` that are unlocked and older than an hour."""
    now = time.time() if now is None else now
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for tmp in folder.glob(f"{STAGING_PREFIX}*"):
        marker = tmp / STAGING_MARKER
        if not tmp.is_dir() or not marker.is_file():
            continue  # not one of ours: leave it
        with contextlib.suppress(OSError):
            if now - marker.stat().st_mtime > STALE_AFTER_S and _is_unlocked(marker):
                shutil.rmtree(tmp)
                removed.append(tmp)
    return removed


@dataclass
class Staging:
    """Where a command writes its files; `path(name)` gives the staged location of an output."""

    root: Path
    _lock: IO[str] | None = field(default=None, repr=False)   # the locked marker file (None: not locked)

    def path(self, relative: str) -> Path:
        if not _is_safe_relative(relative):
            raise ValueError(f"output name {relative!r} is not a plain relative path")
        p = self.root / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def __truediv__(self, relative: str) -> Path:
        return self.path(relative)

    def files(self) -> set[str]:
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and p.name != STAGING_MARKER}


def _open_staging(folder: Path) -> Staging:
    root = folder / f"{STAGING_PREFIX}{uuid.uuid4().hex[:12]}"
    root.mkdir()
    marker = root / STAGING_MARKER
    fh = open(marker, "w")
    fcntl.flock(fh, fcntl.LOCK_EX)
    fh.write(f"pid {os.getpid()}\n")
    fh.flush()
    return Staging(root, fh)


def _close_staging(staging: Staging) -> None:
    with contextlib.suppress(OSError):
        if staging._lock is not None:
            staging._lock.close()
    shutil.rmtree(staging.root, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# claiming a folder
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Claim:
    folder: Path
    previous: frozenset[str]   # files an earlier nanocloak run listed here
    created: bool              # the folder did not exist before
    forced: bool               # a non-empty folder without a manifest, written with force


def check_folder(folder: str | Path | None, force: bool = False) -> None:
    """Before long work: raise the OutputError that writing into `folder` would raise (creates nothing)."""
    if folder is None:
        return
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    if not out.exists():
        return
    others = [p for p in out.iterdir() if not p.name.startswith(STAGING_PREFIX)]
    if read_manifest(out) is None and others and not force:
        claim_folder(out, force)   # raises the full message


def check_file(path: str | Path | None, force: bool = False, option: str = "-o") -> None:
    """Before long work: raise the OutputError that writing the single file `path` would raise."""
    if path is None:
        return
    target = Path(path)
    if target.is_dir():
        raise OutputError(f"{option} {target}: is a folder, not a file")
    if target.exists() and not force and not is_generated(target):
        raise OutputError(f"{option} {target}: the file exists and was not written by nanocloak; choose another "
                          "name or add --force to replace it")
    if not target.parent.exists():
        raise OutputError(f"{option} {target}: the folder {target.parent} does not exist")


def claim_folder(folder: str | Path, force: bool = False) -> Claim:
    """Check that nanocloak may write into `folder` (creating it if needed); raise OutputError if not."""
    out = Path(folder)
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: exists and is not a folder")
    created = not out.exists()
    if created:
        try:
            out.mkdir(parents=True)
        except OSError as exc:
            raise OutputError(f"--out {out}: cannot create the folder ({exc.strerror})") from None
    clean_stale_staging(out)
    doc = read_manifest(out)
    others = [p for p in out.iterdir() if not p.name.startswith(STAGING_PREFIX)]
    if doc is None and others and not force:
        raise OutputError(f"--out {out}: the folder is not empty and was not written by nanocloak "
                          f"(it holds {others[0].name}{' and more' if len(others) > 1 else ''}); choose a new or "
                          "empty folder, or add --force to write beside those files (nothing of theirs is deleted)")
    return Claim(out, frozenset(_manifest_files(doc)), created, doc is None and bool(others))


def _check_collisions(claim: Claim, new: set[str]) -> None:
    clash = sorted(rel for rel in new if rel not in claim.previous and (claim.folder / rel).exists())
    if clash:
        raise OutputError(f"--out {claim.folder}: {clash[0]}{f' (and {len(clash) - 1} more)' if len(clash) > 1 else ''} "
                          "exists and was not written by nanocloak; nanocloak will not replace it. Move it or choose "
                          "another folder")


def _remove_dropped(claim: Claim, keep: set[str]) -> None:
    """Delete files an earlier nanocloak run listed and this run no longer makes (only those)."""
    for rel in sorted(claim.previous - keep):
        p = claim.folder / rel
        with contextlib.suppress(OSError):
            if p.is_file() and not p.is_symlink():
                p.unlink()
                _remove_empty_parents(p.parent, claim.folder)


def _remove_empty_parents(d: Path, stop: Path) -> None:
    while d != stop and stop in d.parents:
        try:
            d.rmdir()
        except OSError:
            return
        d = d.parent


@contextlib.contextmanager
def output_folder(folder: str | Path, command: str, force: bool = False) -> Iterator[Staging]:
    """Stage a command's files and move them into `folder` on success (the rules at the top)."""
    claim = claim_folder(folder, force)
    staging = _open_staging(claim.folder)
    try:
        yield staging
        new = staging.files()
        _check_collisions(claim, new)
        for rel in sorted(new):
            target = claim.folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging.root / rel, target)
        _remove_dropped(claim, new)
        _write_manifest(claim.folder, command, new)
    except BaseException:
        _close_staging(staging)
        if claim.created:
            with contextlib.suppress(OSError):
                claim.folder.rmdir()   # only if still empty: nothing else was ever there
        raise
    _close_staging(staging)


class IncrementalFolder:
    """A folder written over time (resumable screens): claimed once, files registered as written."""

    def __init__(self, folder: str | Path, command: str, force: bool = False):
        self.claim = claim_folder(folder, force)
        self.command = command
        self.written: set[str] = set()

    @property
    def path(self) -> Path:
        return self.claim.folder

    def target(self, relative: str) -> Path:
        """Where to write `relative`; refuses a user's file of that name and records it as ours."""
        if not _is_safe_relative(relative):
            raise ValueError(f"output name {relative!r} is not a plain relative path")
        _check_collisions(self.claim, {relative} - self.written)
        self.written.add(relative)
        self._save()
        p = self.claim.folder / relative
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def keep(self, relatives: set[str]) -> None:
        """Carry files of an earlier run that stay valid (e.g. resumed chunks) into the manifest."""
        self.written |= {r for r in relatives if (self.claim.folder / r).is_file()}
        self._save()

    def finish(self) -> None:
        self.written = {r for r in self.written if (self.claim.folder / r).is_file()}  # targets left unused
        _remove_dropped(self.claim, self.written)
        self._save(final=True)

    def _save(self, final: bool = False) -> None:
        # until the run finishes, files of the earlier run are still on disk and still ours
        _write_manifest(self.claim.folder, self.command, self.written if final else self.written | self.claim.previous)


# ---------------------------------------------------------------------------------------------
# single files
# ---------------------------------------------------------------------------------------------
def is_generated(path: Path) -> bool:
    """True if `path` carries nanocloak's mark near its start (so nanocloak wrote it)."""
    try:
        with open(path, "rb") as fh:
            return GENERATED_MARK.encode() in fh.read(MARK_SEARCH_BYTES)
    except OSError:
        return False


def write_file_atomic(path: str | Path, content: str | bytes) -> Path:
    """Write `content` to `path` through a temporary name in the same folder, then rename."""
    target = Path(path)
    with atomic_file(target) as tmp:
        if isinstance(content, bytes):
            tmp.write_bytes(content)
        else:
            tmp.write_text(content, encoding="utf-8")
    return target


def write_generated_file(path: str | Path, content: str, force: bool = False, option: str = "-o") -> Path:
    """A single-file output: refuses to replace a file nanocloak did not write unless `force`.
    `content` must carry GENERATED_MARK near its start, so the next run recognises the file."""
    if GENERATED_MARK not in content[:MARK_SEARCH_BYTES]:
        raise AssertionError("a generated file must carry the nanocloak-generated mark")  # a bug, not user input
    check_file(path, force, option)
    return write_file_atomic(Path(path), content)


@contextlib.contextmanager
def atomic_file(path: str | Path) -> Iterator[Path]:
    """Yield a temporary name next to path (.NAME.<random>.tmp); on success it replaces path, on
    any error it is removed, so readers never see a half-written file."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise

