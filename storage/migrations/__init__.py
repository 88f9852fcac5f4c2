"""Alembic migrations of Jalon's schema (run through ``storage.migrate``)."""
