"""Jalon's persistence: tables, the hash-chained audit trail, migrations; never imports engine."""
