"""Text and files from the browser, checked before the package sees them.

Everything from the browser comes in as text or bytes: size (MAX_UPLOAD_BYTES), YAML without
aliases and within a node budget, then the package's own strict loader. Nothing here takes a path
from the browser: callers pass paths inside the session's own folder.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from .door import module, package_errors

#: the largest file accepted from the browser (a formulation is a few kB, a lab CSV a few hundred)
MAX_UPLOAD_BYTES = 2_000_000
#: the browser itself drops larger files; between MAX_UPLOAD_BYTES and this the page says why
CLIENT_MAX_UPLOAD_BYTES = 8_000_000
#: YAML events (scalars, mappings, sequences) allowed in one document; a formulation has < 300
MAX_YAML_EVENTS = 50_000
#: the endings a lab data file may have
LAB_SUFFIXES = (".csv", ".xlsx")


class AppInputError(Exception):
    """Input from the browser that is refused before the package sees it (size, encoding, aliases)."""


def user_error_types() -> tuple[type[Exception], ...]:
    """Exceptions whose message is meant for the user (shown on the page, no traceback)."""
    _, nanocloak_error = package_errors()
    return (nanocloak_error, AppInputError)


def decode_upload(contents: str | None, what: str = "file") -> bytes:
    """The bytes of a dcc.Upload `contents` data URL, refused beyond MAX_UPLOAD_BYTES."""
    import base64
    import binascii

    if not contents or "," not in contents:
        raise AppInputError(f"the {what} is empty")
    header, _, data = contents.partition(",")
    if ";base64" not in header:
        raise AppInputError(f"the {what} could not be read (not a base64 upload)")
    if len(data) > (MAX_UPLOAD_BYTES * 4) // 3 + 8:
        raise AppInputError(f"the {what} is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AppInputError(f"the {what} could not be read (bad base64 data)") from None
    if len(raw) > MAX_UPLOAD_BYTES:
        raise AppInputError(f"the {what} is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    return raw


def decode_text(raw: bytes, what: str = "file") -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AppInputError(f"the {what} is not UTF-8 text (byte {exc.start}); save it as UTF-8") from None


def parse_yaml(text: str, source: str = "") -> Any:
    """YAML text -> data, strictly: size, no aliases (no 'billion laughs'), an event budget, then
    the package's strict loader (duplicate keys, nesting depth)."""
    import yaml

    safe_yaml = module("safe_yaml")
    if not isinstance(text, str):
        raise AppInputError("expected YAML text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_UPLOAD_BYTES:
        raise AppInputError(f"the YAML is larger than {MAX_UPLOAD_BYTES / 1e6:g} MB: refused")
    try:
        for n, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise AppInputError("YAML anchors and aliases (&name, *name) are not accepted here; write the values out")
            if n > MAX_YAML_EVENTS:
                raise AppInputError(f"the YAML has more than {MAX_YAML_EVENTS} values: refused")
    except yaml.YAMLError:
        pass                       # the strict loader below names the line and column
    return safe_yaml.loads(text, source)


def dump_yaml(doc: Any) -> str:
    """Block style, except lists of plain values ([0, 24]) and small flat mappings ({k_per_h: 0.02})."""
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def scalar(v):
        return v is None or isinstance(v, (str, int, float, bool))

    def represent_list(dumper, data):
        return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=bool(data) and all(scalar(v) for v in data))

    def represent_dict(dumper, data):
        flat = 0 < len(data) <= 3 and all(scalar(v) and not isinstance(v, str) for v in data.values())
        return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flat)

    Dumper.add_representer(list, represent_list)
    Dumper.add_representer(dict, represent_dict)
    return yaml.dump(doc, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)


def safe_filename(name: str, suffix: str) -> str:
    """A download name from a design name (a name offered to the browser, never a path here)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(name or "design")).strip("._") or "design"
    return f"{stem[:60]}{suffix}"


def lab_suffix(browser_name: str | None) -> str:
    """.csv or .xlsx from the name the browser gave (only its ending is looked at)."""
    suffix = Path(str(browser_name or "")).suffix.lower()
    if suffix not in LAB_SUFFIXES:
        raise AppInputError("lab data must be a .csv or .xlsx file (docs/lab_data.md)")
    return suffix


def search_words(text: str) -> str:
    """Words, not one long token: the dropdown's index grows with the square of a token's length."""
    return re.sub(r"[_:/\s]+", " ", str(text)).strip()


def json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:
        pass
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return str(o)


def to_json(obj) -> str:
    return json.dumps(obj, default=json_default)
