"""``python -m chain`` is the ``forewarn`` command."""

from chain.cli import main

main()
