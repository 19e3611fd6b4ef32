"""A trained delivery model kept in the user's cache folder, so `learn predict` trains once.

The file name carries a key made of the training data's SHA-256, the nanocloak version and the
scikit-learn version: new data or new code never reads an old model. Only files nanocloak wrote
in its own cache folder are ever read.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
from pathlib import Path
from typing import Any, Callable

from nanocloak.learn import ntd

CACHE_ENV = "NANOCLOAK_CACHE_DIR"
CONTENTS = "outcome and tumor-parameter GPs; own standardizer"


def cache_dir() -> Path:
    """$NANOCLOAK_CACHE_DIR, else $XDG_CACHE_HOME/nanocloak, else ~/.cache/nanocloak."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "nanocloak"


def model_key(ntd_dir: str | Path | None) -> str:
    from importlib.metadata import version  # scikit-learn's version without importing it (~2 s)

    from nanocloak.version import __version__

    digest = hashlib.sha256()
    directory = Path(ntd_dir or ntd.default_directory())
    for name in ("datasets.csv", "timecourse.csv"):
        digest.update((directory / name).read_bytes())
    # the cached model's contents: both GPs fitted (a model saved before carried only the outcomes'),
    # features standardized without scikit-learn (earlier files pickled its StandardScaler)
    digest.update(f"nanocloak {__version__}; scikit-learn {version('scikit-learn')}; {CONTENTS}".encode())
    return digest.hexdigest()[:20]


def cached_model(ntd_dir: str | Path | None, train: Callable[[], Any]) -> Any:
    """The model for this data and these versions: read from the cache, or trained and saved."""
    path = cache_dir() / f"delivery_model-{model_key(ntd_dir)}.pkl"
    if path.is_file():
        with contextlib.suppress(Exception):  # a damaged or foreign pickle: retrain, never fail
            with open(path, "rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own cache file, keyed by content hash
    model = train()
    with contextlib.suppress(OSError):  # an unwritable cache only costs the next run its training
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            pickle.dump(model, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    return model
