"""``jalon workflows``: validate, list, show, diagram, schema and register, through the real CLI."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import structlog
from typer.testing import CliRunner, Result

from engine import cli_workflows
from engine.cli import app
from storage.database import Database
from storage.store import JOURNAL_CHAIN, Store
from workflows.catalogue import library_dir

RunJalon = Callable[..., subprocess.CompletedProcess[str]]
MAPA = library_dir() / "mapa.yaml"
WIDE_COLUMNS = "400"
"""Terminal width given to rich, so that no table cell is wrapped in assertions."""

SMALL = """\
id: achat_simple
version: 1
code: ACHS
title: Achat de faible montant
owner: Direction de la commande publique

fields:
  objet:
    type: text
    label: Objet de l'achat
  montant_estime:
    type: amount
    label: Montant estimé (€ HT)

states:
  besoin:
    label: Définition du besoin
    initial: true
    role: acheteur
  commande:
    label: Émission du bon de commande
    role: responsable_achat
  termine:
    label: Achat terminé
    final: true
  abandonne:
    label: Achat abandonné
    final: true

transitions:
  - trigger: valider_besoin
    source: besoin
    dest: commande
    label: Valider le besoin
    roles: [acheteur]
    controls:
      - control: required_fields
        params: {fields: [objet, montant_estime]}
  - trigger: commander
    source: commande
    dest: termine
    label: Émettre le bon de commande
    roles: [responsable_achat]
  - trigger: abandonner
    source: [besoin, commande]
    dest: abandonne
    label: Abandonner l'achat
"""
"""A valid definition (the guide's example, trimmed); the broken variants below edit it."""


def _edit(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


BROKEN = {
    "unknown_key": _edit("    roles: [responsable_achat]\n", "    role: responsable_achat\n"),
    "unknown_state": _edit("    dest: termine\n", "    dest: termnie\n"),
    "unreachable": _edit("    dest: commande\n", "    dest: abandonne\n"),
    "duplicate_trigger": SMALL
    + "  - trigger: commander\n    source: commande\n    dest: abandonne\n"
    + "    label: Commander autrement\n",
    "bad_type": _edit("version: 1\n", "version: deux\n"),
    "syntax_error": _edit("title: Achat de faible montant\n", "title: Achat: de faible montant\n"),
    "duplicate_key": _edit(
        "    label: Achat terminé\n", "    label: Achat terminé\n    label: Fini\n"
    ),
}
"""Broken definitions by name: each breaks one rule of docs/writing-workflows.md."""


def _at(name: str, snippet: str, occurrence: int = 1) -> int:
    """The line number of the ``occurrence``-th line of ``BROKEN[name]`` starting ``snippet``."""
    lines = BROKEN[name].splitlines()
    found = [n for n, line in enumerate(lines, 1) if line.startswith(snippet)]
    return found[occurrence - 1]


EXPECTED: dict[str, list[tuple[int, str]]] = {
    "unknown_key": [
        (
            _at("unknown_key", "    role: responsable_achat", 2),
            "[transitions[1].role] clé inconnue « role » (vouliez-vous dire « roles » ?) ; clés "
            "possibles : trigger, source, dest, label, description, roles, controls",
        )
    ],
    "unknown_state": [
        (
            _at("unknown_state", "  termine:"),
            "[states.termine] étape « Achat terminé » (termine) inaccessible : aucune suite de "
            "transitions n'y mène depuis l'étape initiale « Définition du besoin » (besoin)",
        ),
        (
            _at("unknown_state", "    dest: termnie"),
            "[transitions[1].dest] étape d'arrivée « termnie » inconnue (vouliez-vous dire "
            "« termine » ?) : elle doit être déclarée sous « states »",
        ),
    ],
    "unreachable": [
        (
            _at("unreachable", "  commande:"),
            "[states.commande] étape « Émission du bon de commande » (commande) inaccessible : "
            "aucune suite de transitions n'y mène depuis l'étape initiale « Définition du "
            "besoin » (besoin) ; les étapes qui en dépendent le sont aussi : termine",
        )
    ],
    "duplicate_trigger": [
        (
            _at("duplicate_trigger", "  - trigger: commander", 2),
            "[transitions[3].trigger] le déclencheur « commander » part déjà de l'étape "
            "« Émission du bon de commande » (commande) (transitions[1]) : depuis une même "
            "étape, un déclencheur ne mène qu'à une seule étape",
        )
    ],
    "bad_type": [(2, "[version] « deux » n'est pas un nombre entier")],
    "syntax_error": [
        (
            4,
            "erreur de syntaxe YAML (colonne 13) : « : » inattendu : mettez la valeur entre "
            "guillemets",
        )
    ],
    "duplicate_key": [
        (
            _at("duplicate_key", "    label: Fini"),
            "[states.termine.label] la clé « label » apparaît deux fois dans ce bloc (déjà "
            f"ligne {_at('duplicate_key', '    label: Achat terminé')}) : seule la dernière "
            "serait retenue, supprimez l'autre",
        )
    ],
}
"""What ``validate`` prints for each broken file, after ``PATH:``: line, then problem."""


def _expected(name: str, path: Path) -> list[str]:
    """The exact problem lines ``validate`` must print for the broken file ``name`` at ``path``."""
    return [f"{path}:{line}: {text}" for line, text in EXPECTED[name]]


@pytest.fixture
def runner() -> Iterator[CliRunner]:
    """A runner whose rich output is wide enough never to wrap a table cell.

    The CLI configures structlog to write on the runner's standard error, closed after each
    invocation: the configuration is reset afterwards so that later tests can log.
    """
    yield CliRunner(env={"COLUMNS": WIDE_COLUMNS, "JALON_WORKFLOWS": None})
    structlog.reset_defaults()


def _invoke(runner: CliRunner, *args: str, env: dict[str, str | None] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def _write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- validate -----------------------------------------------------------------------------------


def test_validate_packaged_library_is_silent(runner: CliRunner) -> None:
    result = _invoke(runner, "workflows", "validate", str(MAPA), str(library_dir()))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == ""


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_validate_reports_each_problem_with_file_line_and_field(
    runner: CliRunner, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path, f"{name}.yaml", BROKEN[name])
    result = _invoke(runner, "workflows", "validate", str(path))
    expected = _expected(name, path)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [*expected, f"{len(expected)} problème(s)."]


def test_validate_several_files_reports_them_all(runner: CliRunner, tmp_path: Path) -> None:
    names = ["bad_type", "unknown_state", "duplicate_trigger"]
    paths = [_write(tmp_path, f"{name}.yaml", BROKEN[name]) for name in names]
    valid = _write(tmp_path, "valid.yaml", SMALL)
    result = _invoke(runner, "workflows", "validate", *map(str, paths), str(valid))
    expected = [
        line for name, path in zip(names, paths, strict=True) for line in _expected(name, path)
    ]
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [*expected, f"{len(expected)} problème(s)."]


def test_validate_a_folder_reads_its_yaml_files(runner: CliRunner, tmp_path: Path) -> None:
    folder = tmp_path / "procedures"
    for name, text in BROKEN.items():
        _write(folder, f"{name}.yaml", text)
    _write(folder, "notes.txt", "pas une procédure")
    result = _invoke(runner, "workflows", "validate", str(folder))
    expected = [
        line for name in sorted(BROKEN) for line in _expected(name, folder / f"{name}.yaml")
    ]
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [*expected, f"{len(expected)} problème(s)."]


def test_validate_keeps_brackets_of_field_paths(runner: CliRunner, tmp_path: Path) -> None:
    """Rich markup must not eat ``[states.termine.label]`` nor wrap a long problem line."""
    path = _write(tmp_path, "dup.yaml", BROKEN["duplicate_key"])
    narrow = runner.invoke(app, ["workflows", "validate", str(path)], env={"COLUMNS": "40"})
    first = narrow.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{_at('duplicate_key', '    label: Fini')}: ")
    assert "[states.termine.label]" in first
    assert first.endswith("supprimez l'autre")


# --- list, show, diagram, schema ----------------------------------------------------------------


def test_list_shows_the_packaged_library(runner: CliRunner, tmp_path: Path) -> None:
    result = _invoke(runner, "--db", str(tmp_path / "absent.db"), "workflows", "list")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if " mapa " in line)
    for cell in ("mapa", "2", "MAPA", "Marché à procédure adaptée (MAPA)", str(MAPA)):
        assert f" {cell} " in row
    assert "Enregistrée" not in result.stdout  # no database: no such column
    assert not (tmp_path / "absent.db").exists()  # and none was created
    assert result.stderr == ""


@pytest.mark.parametrize(
    "target",
    ["directory", "text", "postgresql://nobody@/nowhere?host=/nonexistent"],
    ids=["directory", "not_a_database", "postgres_unreachable"],
)
def test_list_without_a_usable_database_leaves_the_column_out(
    runner: CliRunner, tmp_path: Path, target: str
) -> None:
    if target == "directory":
        target = str(tmp_path)
    elif target == "text":
        (tmp_path / "notes.txt").write_text("pas une base\n" * 200, encoding="utf-8")
        target = str(tmp_path / "notes.txt")
    result = _invoke(runner, "--db", target, "workflows", "list")
    assert result.exit_code == 0
    assert " mapa " in result.stdout
    assert "Enregistrée" not in result.stdout


def test_list_tells_which_versions_are_registered(
    runner: CliRunner, tmp_path: Path, database_url: str
) -> None:
    folder = tmp_path / "procedures"
    _write(folder, "achat.yaml", SMALL)
    env: dict[str, str | None] = {"JALON_WORKFLOWS": str(folder)}
    assert _invoke(runner, "--db", database_url, "workflows", "register", str(MAPA)).exit_code == 0
    result = _invoke(runner, "--db", database_url, "workflows", "list", env=env)
    assert result.exit_code == 0
    assert "Enregistrée" in result.stdout
    rows = {line.split()[1]: line for line in result.stdout.splitlines() if "│" in line}
    assert rows["mapa"].rstrip(" │").endswith(" oui")
    assert rows["achat_simple"].rstrip(" │").endswith(" non")


def test_list_warns_about_broken_library_files_without_failing(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "procedures"
    _write(folder, "achat.yaml", SMALL)
    broken = _write(folder, "casse.yaml", BROKEN["bad_type"])
    missing = tmp_path / "absent"
    env: dict[str, str | None] = {"JALON_WORKFLOWS": f"{folder}:{missing}"}
    result = _invoke(runner, "--db", str(tmp_path / "none.db"), "workflows", "list", env=env)
    assert result.exit_code == 0
    assert " achat_simple " in result.stdout
    assert " mapa " in result.stdout
    assert result.stderr.splitlines() == [
        "Attention : 2 problème(s) dans la bibliothèque, les fichiers concernés sont ignorés :",
        f"{missing}: dossier de procédures introuvable (JALON_WORKFLOWS)",
        *_expected("bad_type", broken),
    ]


def test_show_mapa_in_french(runner: CliRunner) -> None:
    result = _invoke(runner, "workflows", "show", "mapa")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "Marché à procédure adaptée (MAPA) — mapa v2 (code MAPA) — pilote : "
        "Direction de la commande publique"
    )
    for label in (
        "Montant estimé (€ HT)",
        "Définition du besoin",
        "Procédure déclarée sans suite ou infructueuse",
        "Publier l'avis de marché",
        "Déclarer la procédure infructueuse",
    ):
        assert label in result.stdout
    assert any("enum [fournitures, services, travaux]" in line for line in lines)


def test_show_prints_labels_as_written(runner: CliRunner, tmp_path: Path) -> None:
    """Brackets in a process owner's label are text, not rich markup."""
    folder = tmp_path / "procedures"
    text = SMALL.replace("title: Achat de faible montant", 'title: "Achat [bold]simple[/x]"')
    _write(folder, "achat.yaml", text.replace("label: Achat terminé", 'label: "Terminé [fin]"'))
    result = _invoke(
        runner, "workflows", "show", "achat_simple", env={"JALON_WORKFLOWS": str(folder)}
    )
    assert result.exit_code == 0
    assert result.stdout.startswith("Achat [bold]simple[/x] — achat_simple v1 (code ACHS)")
    assert "Terminé [fin]" in result.stdout


def test_diagram_is_mermaid_with_one_final_newline(runner: CliRunner, tmp_path: Path) -> None:
    result = _invoke(runner, "workflows", "diagram", "mapa")
    assert result.exit_code == 0
    text = result.stdout
    assert text.splitlines()[:4] == [
        "---",
        'title: "Marché à procédure adaptée (MAPA) (v2)"',
        "---",
        "stateDiagram-v2",
    ]
    assert '  state "Définition du besoin" as besoin' in text.splitlines()
    assert text.endswith("  sans_suite --> [*]\n")
    assert not text.endswith("\n\n")
    out = tmp_path / "mapa.mmd"
    assert _invoke(runner, "workflows", "diagram", "mapa", "--out", str(out)).stdout == ""
    assert out.read_text(encoding="utf-8") == text


def test_schema_prints_the_shipped_schema(runner: CliRunner) -> None:
    result = _invoke(runner, "workflows", "schema")
    assert result.exit_code == 0
    shipped = (library_dir() / "workflow.schema.json").read_text(encoding="utf-8")
    assert result.stdout == shipped
    assert json.loads(result.stdout)["title"] == "Définition de procédure Jalon"


def test_schema_write_uses_the_catalogue_schema_path(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "workflow.schema.json"
    monkeypatch.setattr(cli_workflows, "schema_path", lambda: target)
    first = _invoke(runner, "workflows", "schema", "--write")
    assert first.stdout == f"{target} : écrit\n"
    assert target.read_text(encoding="utf-8") == _invoke(runner, "workflows", "schema").stdout
    assert _invoke(runner, "workflows", "schema", "--write").stdout == f"{target} : déjà à jour\n"


# --- register -----------------------------------------------------------------------------------


def _journal_kinds(url: str) -> list[str]:
    database = Database(url)
    store = Store(database)
    try:
        with store.read() as tx:
            return [entry.kind for entry in tx.entries_of_chain(JOURNAL_CHAIN)]
    finally:
        store.close()
        database.dispose()


def test_register_is_idempotent_for_the_same_content(runner: CliRunner, database_url: str) -> None:
    first = _invoke(runner, "--db", database_url, "workflows", "register", str(MAPA), "--as", "bob")
    assert first.exit_code == 0
    assert first.stdout.startswith("mapa v2 : enregistrée, empreinte ")
    again = _invoke(runner, "--db", database_url, "workflows", "register", str(MAPA), "--as", "bob")
    assert again.exit_code == 0
    assert again.stdout.startswith("mapa v2 : déjà enregistrée (identique), empreinte ")
    assert first.stdout.split("empreinte ")[1] == again.stdout.split("empreinte ")[1]
    assert _journal_kinds(database_url) == ["workflow.registered"]


def test_register_refuses_another_content_under_the_same_version(
    runner: CliRunner, run_jalon: RunJalon, tmp_path: Path, database_url: str
) -> None:
    assert _invoke(runner, "--db", database_url, "workflows", "register", str(MAPA)).exit_code == 0
    text = MAPA.read_text(encoding="utf-8")
    changed = _write(
        tmp_path / "essais",
        "mapa.yaml",
        text.replace("label: Publicité\n", "label: Publicité légale\n"),
    )
    result = run_jalon(
        "--db", database_url, "--log-level", "ERROR", "workflows", "register", str(changed)
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(
        "Refusé : La version 2 de « mapa » est déjà enregistrée avec un autre contenu"
    )
    assert "incrémentez « version »" in " ".join(result.stderr.split())
    database = Database(database_url)
    store = Store(database)
    try:
        with store.read() as tx:
            entries = tx.entries_of_chain(JOURNAL_CHAIN)
            registered = tx.workflow("mapa", 2)
    finally:
        store.close()
        database.dispose()
    assert [entry.kind for entry in entries] == ["workflow.registered", "command.refused"]
    payload = json.loads(entries[-1].body)["payload"]
    assert payload["command"] == "workflow.register"
    assert payload["code"] == "version_deja_enregistree"
    assert payload["workflow"] == "mapa"
    assert registered is not None
    assert registered.source == text  # the registered version did not change


# --- JALON_WORKFLOWS ----------------------------------------------------------------------------


def test_jalon_workflows_folders_feed_case_open(
    runner: CliRunner, tmp_path: Path, sqlite_url: str
) -> None:
    folder = tmp_path / "procedures"
    _write(folder, "achat.yaml", SMALL)
    env: dict[str, str | None] = {"JALON_WORKFLOWS": str(folder), "JALON_NOW": None}
    listed = _invoke(runner, "--db", sqlite_url, "workflows", "list", env=env)
    assert " achat_simple " in listed.stdout
    assert (
        "Achat de faible montant"
        in _invoke(runner, "workflows", "show", "achat_simple", env=env).stdout
    )
    opened = _invoke(
        runner,
        "--db",
        sqlite_url,
        "case",
        "open",
        "achat_simple",
        "--org",
        "AMP",
        "--as",
        "alice:acheteur",
        "--set",
        "objet=Papier",
        env=env,
    )
    assert opened.exit_code == 0
    year = datetime.now(ZoneInfo("Europe/Paris")).year
    reference = opened.stdout.strip()
    assert reference in {f"AMP-{year}-ACHS-0001", f"AMP-{year + 1}-ACHS-0001"}  # around new year
    shown = _invoke(runner, "--db", sqlite_url, "case", "show", reference, "--json", env=env)
    case = json.loads(shown.stdout)
    assert (case["workflow"], case["state"], case["data"]) == (
        "achat_simple",
        "besoin",
        {"objet": "Papier"},
    )
    assert _journal_kinds(sqlite_url) == ["workflow.registered"]
