"""`python -m aiops` runs the CLI."""

from aiops.cli import main

main()
