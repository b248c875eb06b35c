"""The ``stackclub`` command."""
from stackclub.cli._main import main

__all__ = ("main",)
