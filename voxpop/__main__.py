"""``python -m voxpop`` is the ``voxpop`` command."""

from voxpop.cli import main

main()
