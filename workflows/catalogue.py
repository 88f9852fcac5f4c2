"""The procedure library: every ``*.yaml`` definition of one or more folders, by id and version.

By default the library is this package's folder plus the folders named in the ``JALON_WORKFLOWS``
environment variable (separated by ``os.pathsep``). A file with problems does not stop the
others from loading: its problems are kept in :attr:`Catalogue.problems`. Two files declaring
the same id and version with different content are a problem too (a registered version never
changes: a new content takes a new version number).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Iterable
from pathlib import Path

from engine.definition import WorkflowDef
from engine.errors import DefinitionInvalid, DefinitionSyntaxError, Problem, UnknownWorkflow
from engine.loader import collect_problems, line_of, load_definition_text
from engine.schema_export import SCHEMA_FILE_NAME

ENV_VAR = "JALON_WORKFLOWS"
"""Environment variable naming extra library folders, separated by ``os.pathsep``."""


def library_dir() -> Path:
    """Return the folder of the packaged procedure library (this module's folder)."""
    return Path(__file__).resolve().parent


def schema_path() -> Path:
    """Return the path of the JSON Schema file shipped with the library."""
    return library_dir() / SCHEMA_FILE_NAME


def default_folders() -> list[Path]:
    """Return the packaged folder followed by the folders named in ``JALON_WORKFLOWS``."""
    folders = [library_dir()]
    for entry in os.environ.get(ENV_VAR, "").split(os.pathsep):
        if entry.strip():
            folders.append(Path(entry.strip()).expanduser())
    return folders


class Catalogue:
    """The definitions found in a set of folders, indexed by ``(id, version)``.

    Args:
        folders: Folders to read (``*.yaml``, not recursive); ``None`` means
            :func:`default_folders`.
        known_controls: Names of the controls in the control catalogue, to check the
            definitions' control references; ``None`` skips that check.
    """

    def __init__(
        self,
        folders: Iterable[Path] | None = None,
        *,
        known_controls: Collection[str] | None = None,
    ) -> None:
        self.folders: tuple[Path, ...] = tuple(
            default_folders() if folders is None else (Path(f) for f in folders)
        )
        self.problems: list[Problem] = []
        self._by_key: dict[tuple[str, int], tuple[Path, WorkflowDef, str]] = {}
        for path in self._files():
            self._add(path, known_controls)

    def _files(self) -> list[Path]:
        seen: set[Path] = set()
        files: list[Path] = []
        for folder in self.folders:
            if not folder.is_dir():
                self.problems.append(
                    Problem(str(folder), None, "", f"dossier de procédures introuvable ({ENV_VAR})")
                )
                continue
            for path in sorted(folder.glob("*.yaml")):
                resolved = path.resolve()
                if resolved not in seen:
                    seen.add(resolved)
                    files.append(path)
        return files

    def _add(self, path: Path, known_controls: Collection[str] | None) -> None:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeError):
            self.problems.extend(collect_problems(path))  # says why in French
            return
        try:
            definition = load_definition_text(text, str(path), known_controls=known_controls)
        except DefinitionInvalid as error:
            self.problems.extend(error.problems)
            return
        except DefinitionSyntaxError as error:
            self.problems.append(error.problem)
            return
        key = (definition.id, definition.version)
        digest = definition.digest()
        existing = self._by_key.get(key)
        if existing is None:
            self._by_key[key] = (path, definition, digest)
        elif existing[2] != digest:
            self.problems.append(
                Problem(
                    str(path),
                    line_of(text, "version"),
                    "version",
                    f"la procédure « {definition.id} » version {definition.version} est déjà "
                    f"définie avec un autre contenu dans {existing[0]} : une version ne change "
                    "plus une fois publiée, donnez un nouveau numéro de version",
                )
            )

    def get(self, workflow_id: str, version: int | None = None) -> WorkflowDef:
        """Return a definition by id, at ``version`` or at its latest version.

        Args:
            workflow_id: The workflow's id (``mapa``...).
            version: The version wanted; ``None`` means the highest version known.

        Returns:
            The definition.

        Raises:
            UnknownWorkflow: No such id, or no such version of it (French message listing
                what is known).
        """
        return self._entry(workflow_id, version)[1]

    def path_of(self, workflow_id: str, version: int | None = None) -> Path:
        """Return the file a definition was read from (latest version when ``None``).

        Raises:
            UnknownWorkflow: No such id or version.
        """
        return self._entry(workflow_id, version)[0]

    def _entry(self, workflow_id: str, version: int | None) -> tuple[Path, WorkflowDef, str]:
        versions = self.versions(workflow_id)
        if not versions:
            known = ", ".join(self.ids()) or "aucune"
            raise UnknownWorkflow(
                f"Procédure « {workflow_id} » inconnue ; procédures disponibles : {known}."
            )
        wanted = versions[-1] if version is None else version
        entry = self._by_key.get((workflow_id, wanted))
        if entry is None:
            listed = ", ".join(str(v) for v in versions)
            raise UnknownWorkflow(
                f"La procédure « {workflow_id} » n'a pas de version {wanted} "
                f"(versions disponibles : {listed})."
            )
        return entry

    def ids(self) -> list[str]:
        """Return the ids of the known workflows, sorted."""
        return sorted({workflow_id for workflow_id, _ in self._by_key})

    def versions(self, workflow_id: str) -> list[int]:
        """Return the known versions of ``workflow_id``, ascending (empty when unknown)."""
        return sorted(version for wid, version in self._by_key if wid == workflow_id)

    def all(self) -> list[tuple[Path, WorkflowDef]]:
        """Return every definition with its file, sorted by id then version."""
        return [
            (path, definition) for _, (path, definition, _digest) in sorted(self._by_key.items())
        ]
