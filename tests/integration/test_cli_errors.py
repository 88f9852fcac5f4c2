"""A user never sees a traceback for a user error: the real ``jalon`` script, one sentence each.

Every case runs the installed console script (``engine.cli:main``) in a subprocess on a copy of
a small SQLite database, and checks the exit code documented at the top of ``engine/cli.py``,
that standard error holds one French sentence naming what is wrong (besides structured log
lines), and what the command left in the database: a refused command adds exactly one audit
entry ``command.refused`` and changes nothing else.

``COLUMNS`` is set wide because rich wraps the sentence at 80 columns when standard error is
not a terminal (see ``test_refusal_is_not_wrapped_at_80_columns``).
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest

from engine.actors import Actor
from engine.service import Engine

RunJalon = Callable[..., subprocess.CompletedProcess[str]]
Audit = Literal["case", "journal", "none"]
Snapshot = dict[str, list[dict[str, Any]]]

EXIT_REFUSED = 1
EXIT_CONFLICT = 3
WIDE = {"COLUMNS": "400"}
UNKNOWN_REFERENCE = "JALON-2000-MAPA-9999"


@dataclass(frozen=True)
class Template:
    """A database with an open case (at version ``version``) and a closed one."""

    db: Path
    reference: str
    closed: str
    version: int


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """Build once: mapa registered, one case in ``besoin`` with a document, one case closed."""
    folder = tmp_path_factory.mktemp("template")
    alice = Actor.parse("alice:acheteur,responsable_achat")
    engine = Engine.connect(str(folder / "jalon.db"))
    try:
        view = engine.open_case("mapa", org="JALON", actor=alice, values={"nature": "services"})
        document = folder / "besoin.pdf"
        document.write_bytes(b"%PDF-1.4 expression du besoin")
        engine.attach(view.reference, document, "expression_besoin", alice)
        closed = engine.open_case(
            "mapa",
            org="JALON",
            actor=alice,
            values={"objet": "Papier", "nature": "fournitures", "montant_estime": "1000"},
        ).reference
        engine.fire(closed, "valider_besoin", alice)
        engine.set_values(closed, {"motif_sans_suite": "Besoin disparu"}, alice)
        engine.fire(closed, "declarer_sans_suite", alice)
        version = engine.show(view.reference).row.version
    finally:
        engine.close()
    return Template(folder / "jalon.db", view.reference, closed, version)


@pytest.fixture
def db(template: Template, tmp_path: Path) -> Path:
    """A private copy of the template database (SQLite's online backup: WAL included)."""
    copy = tmp_path / "jalon.db"
    with closing(sqlite3.connect(template.db)) as source, closing(sqlite3.connect(copy)) as target:
        source.backup(target)
    return copy


def _snapshot(db: Path) -> Snapshot:
    """Every row of every table, as dictionaries, in a stable order."""
    with closing(sqlite3.connect(db)) as connection:
        tables = [
            row[0]
            for row in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            )
        ]
        snapshot: Snapshot = {}
        for table in tables:
            cursor = connection.execute(f'SELECT * FROM "{table}"')
            columns = [d[0] for d in cursor.description]
            rows = [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]
            snapshot[table] = sorted(rows, key=repr)
    return snapshot


def _sentence(stderr: str) -> list[str]:
    """The lines of standard error that are not structured log lines (JSON objects)."""
    lines = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            lines.append(line)
            continue
        if not isinstance(record, dict) or "event" not in record:
            lines.append(line)
        else:
            assert "exception" not in record, record
    return lines


def _assert_one_sentence(
    result: subprocess.CompletedProcess[str], exit_code: int, prefix: str, mentions: tuple[str, ...]
) -> str:
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == exit_code, result.stderr
    assert result.stdout == ""
    lines = _sentence(result.stderr)
    assert len(lines) == 1, lines
    sentence = lines[0]
    assert sentence.startswith(prefix), sentence
    assert sentence.endswith("."), sentence
    for mention in mentions:
        assert mention in sentence, (mention, sentence)
    return sentence


def _assert_effect(
    before: Snapshot, after: Snapshot, audit: Audit, case_id: int, code: str
) -> None:
    """Nothing changed, but for one ``command.refused`` entry on ``audit``'s chain."""
    if audit == "none":
        assert after == before
        return
    new = [row for row in after["audit_entries"] if row not in before["audit_entries"]]
    assert len(after["audit_entries"]) == len(before["audit_entries"]) + 1
    assert len(new) == 1
    entry = new[0]
    assert json.loads(entry["body"])["kind"] == "command.refused"
    assert entry["chain_id"] == (case_id if audit == "case" else 0)
    assert json.loads(entry["body"])["payload"]["code"] == code
    unchanged = {name for name in before if name not in ("audit_entries", "cases")}
    assert {name: after[name] for name in unchanged} == {name: before[name] for name in unchanged}
    if audit == "journal":
        assert after["cases"] == before["cases"]
        return
    moved = {"head_seq": entry["seq"], "head_hash": entry["hash"]}
    expected = [
        {**row, **moved} if row["id"] == case_id else row for row in before["cases"]
    ]  # only the chain head of the case moves: same state, data and version
    assert after["cases"] == expected
    old = next(row for row in before["cases"] if row["id"] == case_id)
    assert entry["seq"] == old["head_seq"] + 1


@dataclass(frozen=True)
class UserError:
    """One user error: the command line, and what the user and the database must see."""

    name: str
    args: tuple[str, ...]
    mentions: tuple[str, ...]
    audit: Audit
    code: str = ""
    exit_code: int = EXIT_REFUSED
    prefix: str = "Refusé : "


USER_ERRORS = [
    UserError(
        "unknown_workflow",
        ("case", "open", "achat_imaginaire"),
        ("Procédure « achat_imaginaire » inconnue", "mapa"),
        "journal",
        "procedure_inconnue",
    ),
    UserError(
        "unknown_workflow_show",
        ("workflows", "show", "achat_imaginaire"),
        ("« achat_imaginaire »",),
        "none",
    ),
    UserError(
        "unknown_workflow_version",
        ("case", "open", "mapa", "--version", "7"),
        ("« mapa »", "version 7"),
        "journal",
        "procedure_inconnue",
    ),
    UserError(
        "unknown_case_show",
        ("case", "show", UNKNOWN_REFERENCE),
        (f"« {UNKNOWN_REFERENCE} »",),
        "none",
    ),
    UserError(
        "unknown_case_fire",
        ("case", "fire", UNKNOWN_REFERENCE, "valider_besoin"),
        (f"« {UNKNOWN_REFERENCE} »",),
        "journal",
        "dossier_inconnu",
    ),
    UserError(
        "amount_abc",
        ("case", "set", "{ref}", "montant_estime=abc"),
        ("« Montant estimé (€ HT) »", "« abc »", "montant en euros"),
        "case",
        "valeur_invalide",
    ),
    UserError(
        "date_31_february",
        ("case", "set", "{ref}", "date_lancement=31/02/2026"),
        ("« Date de lancement de la consultation »", "« 31/02/2026 »", "cette date n'existe pas"),
        "case",
        "valeur_invalide",
    ),
    UserError(
        "unknown_field",
        ("case", "set", "{ref}", "couleur=bleu"),
        ("Champ « couleur » inconnu", "« mapa »", "montant_estime"),
        "case",
        "valeur_invalide",
    ),
    UserError(
        "open_with_bad_value",
        ("case", "open", "mapa", "--set", "montant_estime=12.345"),
        ("« Montant estimé (€ HT) »", "« 12.345 »"),
        "journal",
        "valeur_invalide",
    ),
    UserError(
        "set_without_equals",
        ("case", "set", "{ref}", "objet"),
        ("« objet »", "CHAMP=VALEUR"),
        "none",
    ),
    UserError(
        "open_set_without_equals",
        ("case", "open", "mapa", "--set", "Papier"),
        ("« Papier »", "CHAMP=VALEUR"),
        "none",
    ),
    UserError(
        "actor_unreadable",
        ("case", "fire", "{ref}", "valider_besoin", "--as", "Marie Durand"),
        ("Acteur « Marie Durand » illisible", "UTILISATEUR[:ROLE,...]"),
        "none",
    ),
    UserError(
        "role_unreadable",
        ("case", "fire", "{ref}", "valider_besoin", "--as", "marie:Acheteur"),
        ("« marie:Acheteur »", "Acheteur"),
        "none",
    ),
    UserError(
        "bad_org",
        ("case", "open", "mapa", "--org", "amp"),
        ("Organisation « amp » invalide",),
        "journal",
        "valeur_invalide",
    ),
    UserError(
        "attach_missing_file",
        ("case", "attach", "{ref}", "{tmp}/absent.pdf", "--type", "devis"),
        ("Fichier introuvable", "absent.pdf"),
        "case",
        "valeur_invalide",
    ),
    UserError(
        "attach_bad_type",
        ("case", "attach", "{ref}", "{tmp}/jalon.db", "--type", "Devis"),
        ("Type de pièce « Devis » invalide",),
        "case",
        "valeur_invalide",
    ),
    UserError(
        "trigger_not_from_this_state",
        ("case", "fire", "{ref}", "publier_avis"),
        ("« publier_avis »", "« Définition du besoin »", "valider_besoin"),
        "case",
        "etape_non_autorisee",
    ),
    UserError(
        "unknown_trigger",
        ("case", "fire", "{ref}", "envoler"),
        ("« envoler »",),
        "case",
        "etape_non_autorisee",
    ),
    UserError(
        "wrong_roles",
        ("case", "fire", "{ref}", "valider_besoin", "--as", "bob:comptable"),
        ("« Valider le besoin »", "acheteur, responsable_achat", "comptable"),
        "case",
        "role_non_autorise",
    ),
    UserError(
        "blocking_control",
        ("case", "fire", "{ref}", "valider_besoin"),
        ("« Valider le besoin » refusé", "required_fields", "objet", "montant_estime"),
        "case",
        "controles_non_satisfaits",
    ),
    UserError(
        "closed_case",
        ("case", "set", "{closed}", "objet=Encre"),
        ("{closed}", "est clos"),
        "case",
        "dossier_clos",
    ),
    UserError(
        "stale_if_version",
        ("case", "set", "{ref}", "objet=Papier", "--if-version", "{stale}"),
        ("{ref}", "modifié par une autre commande"),
        "case",
        "conflit",
        EXIT_CONFLICT,
        "Conflit : ",
    ),
    UserError(
        "stale_if_version_fire",
        ("case", "fire", "{ref}", "valider_besoin", "--if-version", "{stale}"),
        ("{ref}", "rechargez-le"),
        "case",
        "conflit",
        EXIT_CONFLICT,
        "Conflit : ",
    ),
]


@pytest.mark.parametrize("error", USER_ERRORS, ids=[e.name for e in USER_ERRORS])
def test_user_error_is_one_french_sentence(
    error: UserError, template: Template, db: Path, run_jalon: RunJalon
) -> None:
    places = {
        "ref": template.reference,
        "closed": template.closed,
        "tmp": str(db.parent),
        "stale": str(template.version - 1),
    }
    args = [arg.format(**places) for arg in error.args]
    mentions = tuple(mention.format(**places) for mention in error.mentions)
    reference = template.closed if "{closed}" in error.args else template.reference
    before = _snapshot(db)
    case_id = next(row["id"] for row in before["cases"] if row["reference"] == reference)
    result = run_jalon("--db", str(db), *args, env=WIDE)
    _assert_one_sentence(result, error.exit_code, error.prefix, mentions)
    _assert_effect(before, _snapshot(db), error.audit, case_id, error.code)


def test_template_case_has_moved_past_version_1(template: Template) -> None:
    """The ``--if-version`` cases above need an older version than the case's to exist."""
    assert template.version >= 2


# --- databases that cannot be used --------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "mention"),
    [
        pytest.param("directory", "dossier", id="db_is_a_directory"),
        pytest.param("text", "notes.txt", id="db_is_not_a_database"),
        pytest.param(
            "postgresql://nobody@/nowhere?host=/nonexistent", "nowhere", id="postgres_unreachable"
        ),
        pytest.param("mysql://nobody@localhost/jalon", "mysql", id="unsupported_database"),
    ],
)
def test_unusable_database_is_one_sentence(
    target: str, mention: str, tmp_path: Path, run_jalon: RunJalon
) -> None:
    if target == "directory":
        (tmp_path / "dossier").mkdir()
        url = str(tmp_path / "dossier")
    elif target == "text":
        (tmp_path / "notes.txt").write_text("pas une base\n" * 200, encoding="utf-8")
        url = str(tmp_path / "notes.txt")
    else:
        url = target
    result = run_jalon("--db", url, "case", "open", "mapa", env=WIDE)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == EXIT_REFUSED
    lines = _sentence(result.stderr)
    assert len(lines) == 1, lines
    assert mention in lines[0]


def test_foreign_sqlite_database_is_one_sentence(tmp_path: Path, run_jalon: RunJalon) -> None:
    foreign = tmp_path / "autre.db"
    with closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE clients (nom TEXT)")
        connection.commit()
    result = run_jalon("--db", str(foreign), "case", "list", env=WIDE)
    _assert_one_sentence(
        result, EXIT_REFUSED, "Base de données : ", (str(foreign), "ne sont pas celles de Jalon")
    )


# --- output and atomicity details once broken, now pinned -----------------------------------


def test_brackets_in_user_input_are_printed_as_typed(db: Path, run_jalon: RunJalon) -> None:
    result = run_jalon("--db", str(db), "case", "open", "[/x]", env=WIDE)
    _assert_one_sentence(result, EXIT_REFUSED, "Refusé : ", ("Procédure « [/x] » inconnue",))


def test_refusal_is_not_wrapped_at_80_columns(
    template: Template, db: Path, run_jalon: RunJalon
) -> None:
    result = run_jalon("--db", str(db), "case", "set", template.reference, "montant_estime=abc")
    _assert_one_sentence(result, EXIT_REFUSED, "Refusé : ", ("« abc »",))


def test_refused_open_on_a_new_database_writes_only_its_refusal(
    tmp_path: Path, run_jalon: RunJalon
) -> None:
    db = tmp_path / "neuve.db"
    result = run_jalon("--db", str(db), "case", "open", "mapa", "--set", "montant_estime=abc")
    assert result.returncode == EXIT_REFUSED
    kinds = [json.loads(row["body"])["kind"] for row in _snapshot(db)["audit_entries"]]
    assert kinds == ["command.refused"]
