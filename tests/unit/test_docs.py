"""Every setting and command a user can reach is in the README."""

import re
from pathlib import Path

from click import Group

from seam.cli import main

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_every_environment_setting_is_documented() -> None:
    source = (ROOT / "src" / "seam" / "settings.py").read_text()
    names = set(re.findall(r'"(SEAM_[A-Z_]+)"', source))
    assert names, "no settings found"
    assert sorted(n for n in names if f"`{n}" not in README) == []


def test_every_command_is_documented() -> None:
    assert isinstance(main, Group)
    missing = [name for name in main.commands if f"`seam {name}" not in README]
    assert missing == []
