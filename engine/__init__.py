"""Jalon's workflow engine: definitions, cases, controls and the commands that drive them."""
