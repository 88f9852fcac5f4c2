"""Integration tests: the service and the CLI end to end."""
