"""The procedure library: one YAML definition per procedure, its JSON Schema, the catalogue."""
