"""The JSON Schema of workflow definition files, generated from the pydantic models.

Editors use it for completion and checking (``# yaml-language-server: $schema=...`` at the top
of a YAML file). The file shipped in ``workflows/`` must equal :func:`render_schema`'s text; a
test compares them, and ``make schema`` rewrites the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from engine.definition import WorkflowDef

SCHEMA_FILE_NAME = "workflow.schema.json"
"""Name of the schema file next to the procedure library's YAML files."""

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_TITLE = "Définition de procédure Jalon"


def schema() -> dict[str, Any]:
    """Return the JSON Schema of a definition file, as a dictionary.

    Returns:
        ``WorkflowDef``'s schema with a ``$schema`` dialect and a French ``title``.
    """
    generated = WorkflowDef.model_json_schema()
    generated["$schema"] = SCHEMA_DIALECT
    generated["title"] = SCHEMA_TITLE
    return generated


def render_schema() -> str:
    """Return the exact text of the schema file: indent 2, sorted keys, trailing newline."""
    return json.dumps(schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schema(path: Path) -> bool:
    """Write the schema file at ``path`` if its content differs.

    Args:
        path: Where to write (usually ``workflows/workflow.schema.json``).

    Returns:
        True when the file was created or changed, False when it was already current.
    """
    text = render_schema()
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return False
    path.write_text(text, encoding="utf-8")
    return True
