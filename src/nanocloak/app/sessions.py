"""Per-session state on the server: a private temporary folder, the latest result, the comparison.

A session is one open page (its id is made by the server when the page loads, 32 hex digits,
checked before any use, so it can name a folder safely). Its folder lives under one temporary
root made when the app starts and removed when it stops; a file from the browser is written there
under a fixed name (`labdata.csv`), never under the name the browser sent. Idle sessions are
dropped (and their folders deleted) after IDLE_S, and at most MAX_SESSIONS are kept.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
IDLE_S = 6 * 3600
MAX_SESSIONS = 64
MAX_COMPARE = 8


class SessionError(Exception):
    """A request without a valid session (a page from before a restart, or forged)."""


def new_session_id() -> str:
    return uuid.uuid4().hex


@dataclass
class Session:
    id: str
    folder: Path
    last_seen: float = field(default_factory=time.monotonic)
    lock: threading.RLock = field(default_factory=threading.RLock)
    result: Any = None                 # SimulationResult of the latest simulation
    result_doc: dict | None = None     # the document it was simulated from
    result_version: int = 0
    compare: list[dict] = field(default_factory=list)        # [{"name", "doc"}]
    compare_results: list[Any] = field(default_factory=list)
    compare_version: int = 0
    lab_path: Path | None = None
    lab_name: str = ""                 # shown only (the browser's name, never used as a path)
    jobs: dict[str, str] = field(default_factory=dict)       # kind -> job id
    data: dict[str, Any] = field(default_factory=dict)       # small per-page state

    def path(self, name: str) -> Path:
        """A file of this session by a name the app chose (letters, digits, '._-' only)."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name) or ".." in name:
            raise SessionError(f"bad file name {name!r}")
        self.folder.mkdir(parents=True, exist_ok=True)
        return self.folder / name


class SessionStore:
    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="nanocloak-app-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def get(self, session_id: Any) -> Session:
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            raise SessionError("this page has no valid session: reload it")
        with self._lock:
            s = self._sessions.get(session_id)
            if s is None:
                s = Session(session_id, self.root / session_id)
                s.folder.mkdir(parents=True, exist_ok=True)
                self._sessions[session_id] = s
                self._evict_locked(keep=session_id)
            s.last_seen = time.monotonic()
            return s

    def _evict_locked(self, keep: str, busy: set[str] | None = None) -> None:
        now = time.monotonic()
        busy = busy or set()
        idle = sorted((s.last_seen, sid) for sid, s in self._sessions.items() if sid != keep and sid not in busy)
        drop = [sid for seen, sid in idle if now - seen > IDLE_S]
        excess = len(self._sessions) - len(drop) - MAX_SESSIONS
        drop += [sid for _, sid in idle if sid not in drop][: max(0, excess)]
        for sid in drop:
            s = self._sessions.pop(sid)
            shutil.rmtree(s.folder, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._sessions)

    def close(self) -> None:
        with self._lock:
            self._sessions.clear()
        shutil.rmtree(self.root, ignore_errors=True)
