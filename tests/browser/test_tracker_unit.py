"""Static checks of the tracker files (no browser needed)."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

TRACKER = Path(__file__).resolve().parents[2] / "src" / "seam" / "tracker"


def test_minified_build_is_from_the_current_source() -> None:
    source = (TRACKER / "seam.js").read_bytes()
    banner = (TRACKER / "seam.min.js").read_text().splitlines()[0]
    sha = hashlib.sha256(source).hexdigest()[:16]
    assert f"src sha256:{sha}" in banner, "seam.js changed: run `npm run build` in src/seam/tracker"


def test_minified_build_is_small() -> None:
    assert len(gzip.compress((TRACKER / "seam.min.js").read_bytes(), 9)) < 6 * 1024


def test_readme_states_the_current_version() -> None:
    version = re.search(r"const VERSION = '([^']+)'", (TRACKER / "seam.js").read_text())
    assert version
    assert f"Size ({version[1]})" in (TRACKER / "README.md").read_text()
