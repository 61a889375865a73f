"""Every setting and command a user can reach is in the README."""

import re
from pathlib import Path

from click import Command, Group

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


def test_every_option_of_every_command_is_documented() -> None:
    def options(command: Command, path: str) -> list[tuple[str, str]]:
        if isinstance(command, Group):
            return [
                found
                for name, sub in command.commands.items()
                for found in options(sub, f"{path} {name}")
            ]
        return [(path, o) for p in command.params for o in p.opts if o.startswith("--")]

    assert [found for found in options(main, "seam") if found[1] not in README] == []
