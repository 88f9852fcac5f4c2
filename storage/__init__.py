"""Jalon's persistence: SQL tables, the hash-chained audit trail, migrations. Never imports engine."""
