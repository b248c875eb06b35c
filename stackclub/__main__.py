"""``python -m stackclub`` runs the ``stackclub`` command."""

from stackclub.cli import main

main()
