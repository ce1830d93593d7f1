"""Worked examples that the test suite runs end to end."""
