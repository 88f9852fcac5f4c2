"""Load a workflow definition from YAML, reporting every problem with its file, line and field.

The YAML is composed with PyYAML's safe loader — libyaml's ``CSafeLoader`` when PyYAML has it
(ten times faster), else ``SafeLoader``; never an unsafe loader — so that every node keeps its
line: a map from field paths such as
``("transitions", 2, "dest")`` to 1-based lines lets structural errors (pydantic) and semantic
ones (``engine.validation``) point at the right line. Duplicate mapping keys, which PyYAML
silently overwrites, are reported too. Messages are French, for process owners; pydantic's
errors are translated by ``engine.definition_messages``.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from engine.definition import WorkflowDef
from engine.definition_messages import Located, located_errors
from engine.errors import DefinitionInvalid, DefinitionSyntaxError, Problem
from engine.validation import PathPart, field_path, parse_field_path, validate_definition

__all__ = [
    "LineMap",
    "Located",
    "collect_problems",
    "line_of",
    "load_definition",
    "load_definition_text",
    "located_errors",
]

LineMap = dict[tuple[PathPart, ...], int]
"""1-based line of the node at each field path (for a mapping entry: the line of its key)."""

_MAX_NODES = 100_000
"""Refuse files whose aliases expand into more nodes than this (YAML "billion laughs")."""

_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader (ten times faster) when PyYAML was built with it, else the pure one."""

_SYNTAX_HINTS: tuple[tuple[str, str], ...] = (
    ("mapping values are not allowed", "« : » inattendu : mettez la valeur entre guillemets"),
    ("found character '\\t'", "tabulation interdite : indentez avec des espaces"),
    ("cannot start any token", "caractère interdit ici : mettez la valeur entre guillemets"),
    ("could not find expected ':'", "« : » attendu après la clé"),
    ("did not find expected key", "clé attendue : vérifiez l'indentation"),
    ("did not find expected '-' indicator", "« - » attendu : vérifiez l'indentation de la liste"),
    ("expected <block end>", "indentation incohérente"),
    ("found undefined alias", "alias YAML non défini"),
    ("expected ',' or ']'", "« ] » attendu : un crochet n'est pas fermé ?"),
    ("expected ',' or '}'", "« } » attendu : une accolade n'est pas fermée ?"),
    ("found unhashable key", "une clé doit être un texte simple"),
    ("found unexpected end of stream", "fin de fichier inattendue (guillemet non fermé ?)"),
    ("expected a single document", "le fichier ne doit contenir qu'un seul document YAML"),
    ("found unknown escape character", "caractère d'échappement inconnu entre guillemets"),
    ("while scanning a quoted scalar", "guillemet non fermé"),
)


@dataclass(frozen=True, slots=True)
class ParsedYaml:
    """A parsed YAML document with the line of every node and the problems found reading it."""

    data: Any
    lines: LineMap
    problems: list[Problem]


def load_definition(path: Path, *, known_controls: Collection[str] | None = None) -> WorkflowDef:
    """Load and check the definition file at ``path``.

    Args:
        path: A YAML file.
        known_controls: Names of the controls in the catalogue; ``None`` skips that check.

    Returns:
        The definition, when it has no problem at all.

    Raises:
        DefinitionSyntaxError: The file cannot be read or is not valid YAML.
        DefinitionInvalid: The file is valid YAML but breaks rules; every problem is listed.
    """
    return load_definition_text(read_source(path), str(path), known_controls=known_controls)


def load_definition_text(
    text: str, path: str, *, known_controls: Collection[str] | None = None
) -> WorkflowDef:
    """Load and check a definition given as YAML text (stored in the database, or a test's).

    Args:
        text: The YAML text.
        path: How to name the source in problems (a file path, or e.g. ``"mapa@v1"``).
        known_controls: Names of the controls in the catalogue; ``None`` skips that check.

    Returns:
        The definition, when it has no problem at all.

    Raises:
        DefinitionSyntaxError: The text is not valid YAML.
        DefinitionInvalid: The text is valid YAML but breaks rules; every problem is listed.
    """
    definition, problems = _load(text, path, known_controls)
    if problems or definition is None:
        raise DefinitionInvalid(path, problems)
    return definition


def collect_problems(
    path: Path | str, *, text: str | None = None, known_controls: Collection[str] | None = None
) -> list[Problem]:
    """Return every problem of a definition file, never raising for a user's mistake.

    Args:
        path: The file to read (or, with ``text``, the name to give it in problems).
        text: The YAML text, when it is not to be read from ``path``.
        known_controls: Names of the controls in the catalogue; ``None`` skips that check.

    Returns:
        The problems sorted by line; an unreadable file or a YAML syntax error is one problem.
    """
    try:
        source = read_source(Path(path)) if text is None else text
        return _load(source, str(path), known_controls)[1]
    except DefinitionSyntaxError as error:
        return [error.problem]


def line_of(text: str, field: str) -> int | None:
    """Return the line of ``field`` (e.g. ``"version"``, ``"transitions[2].dest"``) in ``text``.

    Args:
        text: YAML text.
        field: A field path as problems write it.

    Returns:
        The 1-based line of the nearest node on that path, or ``None`` if the text is not YAML.
    """
    try:
        parsed = parse_yaml(text, "")
    except DefinitionSyntaxError:
        return None
    return _nearest_line(parsed.lines, parse_field_path(field))


def read_source(path: Path) -> str:
    """Read a UTF-8 definition or parameter file; unreadable files become French problems."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise DefinitionSyntaxError(
            path, None, f"le fichier n'est pas encodé en UTF-8 (octet {error.start})"
        ) from error
    except OSError as error:
        reason = error.strerror or type(error).__name__
        detail = f"impossible de lire le fichier : {reason}"
        raise DefinitionSyntaxError(path, None, detail) from error


def _load(
    text: str, path: str, known_controls: Collection[str] | None
) -> tuple[WorkflowDef | None, list[Problem]]:
    parsed = parse_yaml(text, path)
    problems = list(parsed.problems)
    definition: WorkflowDef | None = None
    if parsed.data is None:
        problems.append(Problem(path, 1, "", "le fichier est vide : il doit décrire une procédure"))
    else:
        try:
            definition = WorkflowDef.model_validate(parsed.data)
        except ValidationError as error:
            for loc, field, message in located_errors(error, parsed.data):
                problems.append(Problem(path, _nearest_line(parsed.lines, loc), field, message))
    if definition is not None:
        for problem in validate_definition(definition, known_controls):
            line = _nearest_line(parsed.lines, parse_field_path(problem.field))
            problems.append(Problem(path, line, problem.field, problem.message))
    problems.sort(key=lambda p: p.line if p.line is not None else 0)
    return (definition if not problems else None), problems


def _nearest_line(lines: LineMap, loc: Iterable[PathPart]) -> int | None:
    parts = tuple(loc)
    for end in range(len(parts), -1, -1):
        line = lines.get(parts[:end])
        if line is not None:
            return line
    return None


def _syntax_error(path: str, text: str, error: yaml.YAMLError) -> DefinitionSyntaxError:
    if isinstance(error, yaml.reader.ReaderError):
        found = text.find(chr(error.character))
        line = text.count("\n", 0, found) + 1 if found >= 0 else None
        detail = f"caractère non autorisé (U+{error.character:04X}) : supprimez-le"
        return DefinitionSyntaxError(path, line, f"erreur de syntaxe YAML : {detail}")
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    line = mark.line + 1 if mark is not None else None
    column = f" (colonne {mark.column + 1})" if mark is not None else ""
    problem = str(getattr(error, "problem", None) or getattr(error, "context", None) or error)
    english = f"{getattr(error, 'context', None) or ''} {problem}"
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        english = "found character '\\t'"
    hint = next((french for key, french in _SYNTAX_HINTS if key in english), None)
    detail = hint if hint is not None else f"YAML illisible ({problem})"
    return DefinitionSyntaxError(path, line, f"erreur de syntaxe YAML{column} : {detail}")


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n")
    return lines[line][column : column + 1] if 0 <= line < len(lines) else ""


def parse_yaml(text: str, path: str) -> ParsedYaml:
    """Parse YAML safely, keeping each node's line and reporting duplicate keys."""
    try:
        loader = _SafeLoader(text)
    except yaml.YAMLError as error:
        raise _syntax_error(path, text, error) from error
    try:
        node = loader.get_single_node()
        if node is None:
            return ParsedYaml(None, {}, [])
        walker = _Walker(loader, path)
        walker.walk(node, ())
        data = loader.construct_document(node)
    except yaml.YAMLError as error:
        raise _syntax_error(path, text, error) from error
    except RecursionError as error:
        raise DefinitionSyntaxError(path, None, "structure YAML trop imbriquée") from error
    finally:
        loader.dispose()
    return ParsedYaml(data, walker.lines, walker.problems)


class _Walker:
    """Records the line of every node and the duplicate keys of every mapping."""

    def __init__(self, loader: yaml.SafeLoader | yaml.CSafeLoader, path: str) -> None:
        self.loader = loader
        self.path = path
        self.lines: LineMap = {}
        self.problems: list[Problem] = []
        self._active: set[int] = set()
        self._count = 0

    def walk(self, node: yaml.Node, here: tuple[PathPart, ...], line: int | None = None) -> None:
        self._count += 1
        if self._count > _MAX_NODES:
            raise DefinitionSyntaxError(
                self.path, node.start_mark.line + 1, "fichier trop volumineux (alias imbriqués ?)"
            )
        self.lines.setdefault(here, line if line is not None else node.start_mark.line + 1)
        if id(node) in self._active:  # a recursive alias: its content is already mapped
            return
        self._active.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                self._walk_mapping(node, here)
            elif isinstance(node, yaml.SequenceNode):
                for index, item in enumerate(node.value):
                    self.walk(item, (*here, index))
        finally:
            self._active.discard(id(node))

    def _walk_mapping(self, node: yaml.MappingNode, here: tuple[PathPart, ...]) -> None:
        seen: dict[tuple[type, PathPart], int] = {}  # YAML's true and 1 are different keys
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                merged.append(value_node)
                continue
            key = self._key(key_node)
            line = key_node.start_mark.line + 1
            if (type(key), key) in seen:
                self.problems.append(
                    Problem(
                        self.path,
                        line,
                        field_path(*here, key),
                        f"la clé « {key} » apparaît deux fois dans ce bloc (déjà ligne "
                        f"{seen[type(key), key]}) : seule la dernière serait retenue, "
                        "supprimez l'autre",
                    )
                )
            else:
                seen[type(key), key] = line
                self.walk(value_node, (*here, key), line)
        for value_node in merged:
            for source in (
                value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            ):
                self.walk(source, here)

    def _key(self, key_node: yaml.Node) -> PathPart:
        """The key as the constructed data holds it (``1:`` is an int); other kinds as text."""
        if isinstance(key_node, yaml.ScalarNode):
            key = self.loader.construct_object(key_node)
            return key if isinstance(key, str | int) else str(key)
        return f"<{key_node.tag}>"  # not hashable: construction reports it as a syntax error
