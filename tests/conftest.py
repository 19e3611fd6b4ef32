import os
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
# the trained-model cache of the test run lives under pytest's temporary root, not the user's ~/.cache
os.environ.setdefault("NANOCLOAK_CACHE_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) / "nanocloak-test-cache"))
ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
PARTICLE_EXAMPLES = [p for p in EXAMPLES if "material: free" not in p.read_text()]


@pytest.fixture(scope="session")
def examples():
    return EXAMPLES


def make(core=None, surface=None, subject=None, dose=None, end_h=168.0, **extra):
    """A valid formulation dict with the given blocks replaced."""
    d = {"nanocloak": 1, "name": "test", "core": core or {"material": "plga", "diameter_nm": 70},
         "surface": surface or {"kind": "none"}, "dose": dose or {"mg_per_kg": 5},
         "subject": subject or {"species": "mouse", "body_weight_g": 20}, "simulate": {"end_h": end_h}}
    d.update(extra)
    return d
