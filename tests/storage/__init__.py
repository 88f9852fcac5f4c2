"""Storage tests: the chain, tamper detection, migrations, the PostgreSQL fixture."""
