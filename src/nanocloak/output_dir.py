"""Output folders written whole or not at all."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def atomic_directory(out_dir: str | Path, prefix: str = ".nanocloak-") -> Iterator[Path]:
    """Yield a temporary folder next to out_dir; on success it replaces out_dir, on any error it
    is removed, so a failed run leaves nothing half written (and an older result intact)."""
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=out.parent))
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
