"""The ``stackclub`` command group.

Commands are listed in `_COMMANDS` and imported only when run, so ``stackclub --help`` is quick
and works without the Rubin packages; a command that needs them says so when it runs.
Command bodies are thin: they parse options and forward to the plain Python helpers.
"""

from __future__ import annotations

__all__ = ("main",)

import importlib

import click

from .._version import __version__

# Command name -> "module:attribute" of its click.Command.  Add one line per command.
_COMMANDS: dict[str, str] = {
    "uses-of": "stackclub.cli._where_is:uses_of",
    "where-is": "stackclub.cli._where_is:where_is",
    "config": "stackclub.cli._config:config",
    "demo-repo": "stackclub.cli._demo_repo:demo_repo",
    "doctor": "stackclub.cli._doctor:doctor",
    "versions": "stackclub.cli._versions:versions",
}


class _LazyGroup(click.Group):
    """A click group that imports each command's module only when that command is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _COMMANDS:
            module_name, attr = _COMMANDS[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(name="stackclub", cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="stackclub")
def main() -> None:
    """Stack Club: find, configure, dissect and run Rubin pipeline tasks.

    Each command has its own help: ``stackclub COMMAND --help``.
    """
