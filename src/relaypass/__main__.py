"""``python -m relaypass``."""

from relaypass.cli import main

main()
