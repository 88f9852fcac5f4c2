"""Jalon test suite (a package, so that test modules and fixtures have unique names)."""
