"""Every command's help reads cleanly: whole sentences, no type noise beside flags, the
defaults shown as written."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from keyseal.cli import app


def commands(group: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a group (Typer vendors its own click)
            found += commands(command, (*path, name))
        else:
            found.append((*path, name))
    return found


ALL = commands(typer.main.get_command(app))


@pytest.mark.parametrize("path", ALL, ids=[" ".join(p) or "keyseal" for p in ALL])
def test_help_has_no_type_noise_and_no_swallowed_text(path: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "100"})
    assert shown.exit_code == 0, shown.output
    assert "<bool>" not in shown.output
    assert " ." not in shown.output  # what a markup parser leaves of "[default: …]."


def test_the_home_option_shows_its_default() -> None:
    shown = CliRunner().invoke(app, ["key", "list", "--help"], env={"COLUMNS": "100"}).output
    assert "[default: ~/.keyseal]" in " ".join(shown.split())
