"""``python -m relaypass.cli``."""

from relaypass.cli import main

main()
