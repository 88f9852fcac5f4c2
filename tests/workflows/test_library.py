"""The procedure library shipped in workflows/: every file loads, the schema is current."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine.controls import catalogue
from engine.errors import UnknownWorkflow
from engine.loader import collect_problems, load_definition_text
from engine.machine import compile_workflow
from engine.schema_export import SCHEMA_FILE_NAME, render_schema
from workflows.catalogue import ENV_VAR, Catalogue, library_dir, schema_path

LIBRARY_FILES = sorted(library_dir().glob("*.yaml"))
KNOWN_CONTROLS = catalogue()
"""The whole control catalogue: names, parameters and the names they refer to are checked."""


def test_library_is_not_empty() -> None:
    """The packaged library holds at least the MAPA procedure."""
    assert "mapa.yaml" in [path.name for path in LIBRARY_FILES]


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda path: path.name)
def test_every_definition_loads_without_problem(path: Path) -> None:
    """Every YAML file of the library has no problem, controls checked against the catalogue."""
    problems = collect_problems(path, known_controls=KNOWN_CONTROLS)
    assert problems == [], "\n".join(str(problem) for problem in problems)


@pytest.mark.parametrize("path", LIBRARY_FILES, ids=lambda path: path.name)
def test_every_definition_starts_with_the_schema_modeline(path: Path) -> None:
    """Each file tells editors where its JSON Schema is, for completion."""
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first == f"# yaml-language-server: $schema={SCHEMA_FILE_NAME}"


def test_every_definition_compiles_and_draws() -> None:
    """Every definition compiles and draws a diagram naming all its states."""
    for _, definition in Catalogue([library_dir()]).all():
        diagram = compile_workflow(definition).mermaid()
        for name in definition.states:
            assert f" as {name}" in diagram


def test_schema_file_is_current() -> None:
    """The shipped JSON Schema equals the one generated from the definition models."""
    assert schema_path().read_text(encoding="utf-8") == render_schema(), (
        "workflows/workflow.schema.json is out of date: run `make schema`"
    )


def test_catalogue_indexes_by_id_and_version(tmp_path: Path) -> None:
    """The catalogue serves the latest version by default and any version on request."""
    mapa = (library_dir() / "mapa.yaml").read_text(encoding="utf-8")
    (tmp_path / "mapa-v2.yaml").write_text(
        mapa.replace("version: 2", "version: 3"), encoding="utf-8"
    )
    catalogue = Catalogue([library_dir(), tmp_path])
    assert catalogue.problems == []
    assert catalogue.versions("mapa") == [2, 3]
    assert catalogue.get("mapa").version == 3
    assert catalogue.get("mapa", 2).version == 2
    assert catalogue.path_of("mapa", 3) == tmp_path / "mapa-v2.yaml"
    assert [(d.id, d.version) for _, d in catalogue.all() if d.id == "mapa"] == [
        ("mapa", 2),
        ("mapa", 3),
    ]


def test_unknown_workflow_lists_known_ids() -> None:
    """Asking for an unknown id or version raises UnknownWorkflow in French, listing what exists."""
    catalogue = Catalogue([library_dir()])
    with pytest.raises(UnknownWorkflow, match="procédures disponibles : mapa"):
        catalogue.get("appel_offres")
    with pytest.raises(UnknownWorkflow, match="versions disponibles : 2"):
        catalogue.get("mapa", 9)


def test_same_version_with_other_content_is_a_problem(tmp_path: Path) -> None:
    """Two files with the same id and version but different content are reported."""
    mapa = (library_dir() / "mapa.yaml").read_text(encoding="utf-8")
    (tmp_path / "copie.yaml").write_text(mapa, encoding="utf-8")
    (tmp_path / "zz-modifiee.yaml").write_text(
        mapa.replace("title: Marché à procédure adaptée (MAPA)", "title: MAPA modifiée"),
        encoding="utf-8",
    )
    catalogue = Catalogue([library_dir(), tmp_path])
    assert len(catalogue.problems) == 1
    problem = catalogue.problems[0]
    assert problem.path.endswith("zz-modifiee.yaml")
    assert problem.field == "version"
    assert problem.line == mapa.splitlines().index("version: 2") + 1
    assert "nouveau numéro de version" in problem.message
    assert catalogue.get("mapa").title == "Marché à procédure adaptée (MAPA)"


def test_invalid_files_do_not_hide_the_others(tmp_path: Path) -> None:
    """A broken file is reported in problems; the valid ones still load."""
    (tmp_path / "casse.yaml").write_text("id: casse\nstates: [\n", encoding="utf-8")
    catalogue = Catalogue([library_dir(), tmp_path])
    assert "mapa" in catalogue.ids()
    assert "casse" not in catalogue.ids()
    assert len(catalogue.problems) == 1
    assert catalogue.problems[0].path.endswith("casse.yaml")


def test_environment_adds_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JALON_WORKFLOWS adds folders to the packaged one; a missing folder is a problem."""
    mapa = (library_dir() / "mapa.yaml").read_text(encoding="utf-8")
    (tmp_path / "mapa-v3.yaml").write_text(
        mapa.replace("version: 2", "version: 4"), encoding="utf-8"
    )
    missing = tmp_path / "absent"
    monkeypatch.setenv(ENV_VAR, os.pathsep.join([str(tmp_path), str(missing)]))
    catalogue = Catalogue()
    assert catalogue.folders == (library_dir(), tmp_path, missing)
    assert catalogue.versions("mapa") == [2, 4]
    assert [p.path for p in catalogue.problems] == [str(missing)]


def test_guide_example_is_valid() -> None:
    """The complete example of docs/writing-workflows.md loads without any problem."""
    guide = library_dir().parent / "docs" / "writing-workflows.md"
    blocks = guide.read_text(encoding="utf-8").split("```yaml\n")[1:]
    example = next(block.split("```")[0] for block in blocks if "id: achat_simple" in block)
    problems = collect_problems("guide.yaml", text=example, known_controls=KNOWN_CONTROLS)
    assert problems == [], "\n".join(str(problem) for problem in problems)
    compiled = compile_workflow(load_definition_text(example, "guide.yaml"))
    assert compiled.next_state("besoin", "abandonner") == "abandonne"
