"""docs/audit-trail.md stays true: its verifiers, worked example and tables run on a real trail.

The Python verifier, the two shell recipes, the query by kind and the worked example are taken
from the document itself (by the ``title="..."`` of their code fence) and run against a SQLite
database written by the real engine and exported by the real ``jalon audit trail REF --json``;
then the trail is altered the ways the document says are detected (and the ways it says are
not).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from typer.testing import CliRunner, Result

from engine.actors import Actor
from engine.cli import app
from engine.clock import FrozenClock
from engine.errors import CommandRefused
from engine.service import Engine
from workflows.catalogue import Catalogue

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "audit-trail.md"
VERIFY_MODULE = ROOT / "storage" / "verify.py"
ZERO_HASH = "0" * 64
START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
ACHETEUR = Actor("marie.durand", frozenset({"acheteur"}))
RESPONSABLE = Actor("paul.martin", frozenset({"responsable_achat"}))
APPEND_ONLY_TABLES = ("audit_entries", "audit_checkpoints", "audit_checkpoint_heads")
EXIT_NOT_INTACT = 4

needs_shell = pytest.mark.skipif(
    not all(shutil.which(tool) for tool in ("sh", "sqlite3", "sha256sum", "cut")),
    reason="the shell recipes need sh, sqlite3, sha256sum and cut",
)


def doc_block(title: str) -> str:
    """The body of the one code block of the document whose fence carries ``title="..."``."""
    text = DOC.read_text(encoding="utf-8")
    pattern = rf'^```[a-z]+ title="{re.escape(title)}"\n(.*?)^```$'
    blocks = re.findall(pattern, text, flags=re.MULTILINE | re.DOTALL)
    assert len(blocks) == 1, f"{DOC.name} must hold exactly one block titled {title}"
    block: str = blocks[0]
    return block


@dataclass(frozen=True)
class Trail:
    """A database written by the engine: two cases, a refusal, a document, one checkpoint."""

    db: Path
    reference: str
    other: str
    checkpoint_hash: str


@pytest.fixture
def trail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Trail:
    """Six entries on one case (the last after the checkpoint), one on another, the journal."""
    monkeypatch.delenv("JALON_WORKFLOWS", raising=False)
    db = tmp_path / "jalon.db"
    clock = FrozenClock(START)
    engine = Engine.connect(f"sqlite:///{db}", catalogue=Catalogue(), clock=clock)
    try:
        reference = engine.open_case(
            "mapa",
            org="AMP",
            actor=ACHETEUR,
            values={"objet": "Fournitures « papier » d'été", "nature": "fournitures"},
        ).reference
        clock.advance(timedelta(minutes=5))
        engine.set_values(reference, {"montant_estime": "45 000,50"}, ACHETEUR)
        engine.fire(reference, "valider_besoin", ACHETEUR)
        with pytest.raises(CommandRefused):  # reserved to responsable_achat: recorded refusal
            engine.fire(reference, "retenir_procedure_adaptee", ACHETEUR)
        note = tmp_path / "note.pdf"
        note.write_bytes(b"%PDF-1.4\n% note de choix de la procedure\n")
        engine.attach(reference, note, "note_choix_procedure", RESPONSABLE)
        other = engine.open_case("mapa", org="AMP", actor=ACHETEUR).reference
        checkpoint = engine.checkpoint()
        clock.advance(timedelta(minutes=10))
        engine.fire(reference, "retenir_procedure_adaptee", RESPONSABLE)
    finally:
        engine.close()
    return Trail(db, reference, other, checkpoint.hash)


def jalon(db: Path, *args: str) -> Result:
    """Run the real ``jalon`` command line on ``db``."""
    try:
        return CliRunner().invoke(app, ["--db", str(db), "--log-level", "WARNING", *args])
    finally:
        structlog.reset_defaults()  # the CLI bound structlog to the runner's closed streams


def export(trail: Trail, reference: str) -> list[str]:
    """The lines of ``jalon audit trail REFERENCE --json``."""
    result = jalon(trail.db, "audit", "trail", reference, "--json")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()


def case_head(db: Path, reference: str) -> str:
    """``chain:seq:hash`` of the case's head, as the ``cases`` table records it."""
    with closing(sqlite3.connect(db)) as connection:
        row = connection.execute(
            "SELECT id, head_seq, head_hash FROM cases WHERE reference = ?", (reference,)
        ).fetchone()
    return f"{row[0]}:{row[1]}:{row[2]}"


def case_id(db: Path, reference: str) -> int:
    with closing(sqlite3.connect(db)) as connection:
        value: int = connection.execute(
            "SELECT id FROM cases WHERE reference = ?", (reference,)
        ).fetchone()[0]
    return value


@pytest.fixture
def unsealed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, str, str]:
    """Two cases (two entries, one entry) and no checkpoint at all: the database and references."""
    monkeypatch.delenv("JALON_WORKFLOWS", raising=False)
    db = tmp_path / "unsealed.db"
    engine = Engine.connect(f"sqlite:///{db}", catalogue=Catalogue(), clock=FrozenClock(START))
    try:
        first = engine.open_case("mapa", org="AMP", actor=ACHETEUR).reference
        second = engine.open_case("mapa", org="AMP", actor=ACHETEUR).reference
        engine.set_values(first, {"montant_estime": "1 000,00"}, ACHETEUR)
    finally:
        engine.close()
    return db, first, second


def tamper(db: Path, script: str) -> None:
    """Alter the database as someone with write access to the file would: triggers first."""
    drops = "".join(
        f"DROP TRIGGER {table}_no_{operation};"
        for table in APPEND_ONLY_TABLES
        for operation in ("update", "delete")
    )
    with closing(sqlite3.connect(db)) as connection:
        connection.executescript(drops + script)


def swap_chains(db: Path, first: str, second: str) -> tuple[int, int]:
    """Swap the ``chain_id`` of two cases' entries and their head columns; return the ids."""
    a, b = case_id(db, first), case_id(db, second)
    last = "SELECT max(seq) FROM audit_entries WHERE chain_id = cases.id"
    tamper(
        db,
        f"UPDATE audit_entries SET chain_id = -1 WHERE chain_id = {a};"
        f"UPDATE audit_entries SET chain_id = {a} WHERE chain_id = {b};"
        f"UPDATE audit_entries SET chain_id = {b} WHERE chain_id = -1;"
        f"UPDATE cases SET head_seq = ({last}), head_hash = (SELECT hash FROM audit_entries e "
        f"WHERE e.chain_id = cases.id AND e.seq = ({last})) WHERE id IN ({a}, {b});",
    )
    return a, b


def run_python_verifier(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    """Run the document's ``verify_export.py`` (standard library only: ``-I -S``) on ``lines``."""
    script = tmp_path / "verify_export.py"
    script.write_text(doc_block("verify_export.py"), encoding="utf-8")
    exported = tmp_path / "piste.jsonl"
    exported.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-I", "-S", str(script), str(exported)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )


def run_shell_recipe(tmp_path: Path, title: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run one of the document's shell recipes with ``sh``."""
    script = tmp_path / title
    script.write_text(doc_block(title), encoding="utf-8")
    return subprocess.run(
        ["sh", str(script), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
        cwd=tmp_path,
    )


def verify_findings(db: Path) -> tuple[int, set[str]]:
    """Exit code and problem codes of ``jalon audit verify --json``."""
    result = jalon(db, "audit", "verify", "--json")
    report = json.loads(result.stdout)
    return result.exit_code, {finding["problem"] for finding in report["findings"]}


# ---------------------------------------------------------------------- the Python verifier


def test_python_verifier_accepts_a_real_export_and_prints_the_case_head(
    trail: Trail, tmp_path: Path
) -> None:
    """The doc's verifier, stdlib only, says OK on a real export and prints the case's head."""
    lines = export(trail, trail.reference)
    assert len(lines) == 6
    assert "« papier » d'été" in lines[0], "non-ASCII text must stay unescaped in the export"
    result = run_python_verifier(tmp_path, lines)
    assert result.returncode == 0, result.stderr
    head = case_head(trail.db, trail.reference)
    assert result.stdout == f"OK : 6 entrée(s), tête {head}\n"


def test_export_lines_hold_exactly_body_prev_hash_and_hash(trail: Trail) -> None:
    """Each export line is the stored entry: body text, prev_hash, hash, as documented."""
    rows = [json.loads(line) for line in export(trail, trail.reference)]
    assert all(sorted(row) == ["body", "hash", "prev_hash"] for row in rows)
    assert rows[0]["prev_hash"] == ZERO_HASH
    kinds = {json.loads(row["body"])["kind"] for row in rows}
    assert kinds == {
        "case.opened",
        "case.data_set",
        "case.transition",
        "command.refused",
        "case.document_attached",
    }
    text = DOC.read_text(encoding="utf-8")
    assert all(f"| `{kind}` |" in text for kind in kinds), "every kind is in the kinds table"


Alteration = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _rehash(row: dict[str, Any]) -> dict[str, Any]:
    digest = hashlib.sha256((row["prev_hash"] + row["body"]).encode("utf-8")).hexdigest()
    return {**row, "hash": digest}


def _edit_body(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows[1] = {**rows[1], "body": rows[1]["body"].replace("marie.durand", "paul.martin")}
    return rows


def _edit_body_and_rehash(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = _edit_body(rows)
    rows[1] = _rehash(rows[1])
    return rows


def _delete_entry(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    del rows[2]
    return rows


def _swap_entries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows[1], rows[2] = rows[2], rows[1]
    return rows


def _reformat_last_body(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = json.dumps(json.loads(rows[-1]["body"]), ensure_ascii=False, sort_keys=True)
    rows[-1] = _rehash({**rows[-1], "body": body})  # same facts, not canonical any more
    return rows


def _append_foreign_entry(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    body = json.loads(rows[-1]["body"])
    body.update(seq=body["seq"] + 1, chain=body["chain"] + 1)
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    rows.append(_rehash({"body": text, "prev_hash": rows[-1]["hash"]}))
    return rows


@pytest.mark.parametrize(
    "alter",
    [
        _edit_body,
        _edit_body_and_rehash,
        _delete_entry,
        _swap_entries,
        _reformat_last_body,
        _append_foreign_entry,
    ],
    ids=["body", "body-rehashed", "deleted", "swapped", "not-canonical", "other-chain"],
)
def test_python_verifier_fails_on_an_altered_export(
    trail: Trail, tmp_path: Path, alter: Alteration
) -> None:
    """Any altered line — edited, even rehashed, removed, moved, reformatted — fails the check."""
    rows = alter([json.loads(line) for line in export(trail, trail.reference)])
    result = run_python_verifier(tmp_path, [json.dumps(row, ensure_ascii=False) for row in rows])
    assert result.returncode == 1
    assert result.stderr.startswith("ÉCHEC entrée "), result.stderr


# ---------------------------------------------------------------------- the worked example


@needs_shell
def test_worked_example_outputs_are_the_ones_written_under_each_command(tmp_path: Path) -> None:
    """Each ``# <hash>  -`` comment of the worked example is what the command above prints."""
    block = doc_block("worked_example.sh")
    expected = [line[2:] for line in block.splitlines() if re.fullmatch(r"# [0-9a-f]{64}  -", line)]
    assert len(expected) == 3
    result = subprocess.run(
        ["sh", "-c", block], capture_output=True, text=True, encoding="utf-8", check=True
    )
    assert result.stdout.splitlines() == expected


# ---------------------------------------------------------------------- the shell recipes


@needs_shell
def test_shell_chain_recipe_accepts_every_chain_of_a_real_database(
    trail: Trail, tmp_path: Path
) -> None:
    """verify_chain.sh says OK for both cases and the journal, with the case's real head."""
    for reference in (trail.reference, trail.other, "journal"):
        result = run_shell_recipe(tmp_path, "verify_chain.sh", reference, str(trail.db))
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.startswith("OK : chaîne ")
    result = run_shell_recipe(tmp_path, "verify_chain.sh", trail.reference, str(trail.db))
    assert result.stdout.endswith(f"tête {case_head(trail.db, trail.reference)}\n")


@needs_shell
def test_shell_checkpoint_recipe_accepts_a_real_database(trail: Trail, tmp_path: Path) -> None:
    """verify_checkpoints.sh says OK and ends on the hash ``jalon audit checkpoint`` printed."""
    result = run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == f"OK : 1 point(s) de contrôle, dernier {trail.checkpoint_hash}\n"


@needs_shell
def test_an_edited_entry_is_caught_by_the_chain_recipe_and_by_jalon(
    trail: Trail, tmp_path: Path
) -> None:
    """An edited body fails verify_chain.sh and ``jalon audit verify`` (``entry_modified``)."""
    chain = case_id(trail.db, trail.reference)
    tamper(
        trail.db,
        "UPDATE audit_entries SET body = replace(body, 'marie.durand', 'paul.martin') "
        f"WHERE chain_id = {chain} AND seq = 2;",
    )
    result = run_shell_recipe(tmp_path, "verify_chain.sh", trail.reference, str(trail.db))
    assert (result.returncode, result.stdout) == (1, f"ÉCHEC : chaîne {chain}, entrée 2\n")
    code, problems = verify_findings(trail.db)
    assert code == EXIT_NOT_INTACT
    assert "entry_modified" in problems


@needs_shell
def test_a_tail_cut_behind_a_checkpoint_is_caught(trail: Trail, tmp_path: Path) -> None:
    """Attested entries cut, case head rewritten: the chain looks whole, the checkpoint says no."""
    chain = case_id(trail.db, trail.reference)
    tamper(
        trail.db,
        f"DELETE FROM audit_entries WHERE chain_id = {chain} AND seq >= 4;"
        "UPDATE cases SET head_seq = 3, head_hash = (SELECT hash FROM audit_entries "
        f"WHERE chain_id = {chain} AND seq = 3) WHERE id = {chain};",
    )
    chain_check = run_shell_recipe(tmp_path, "verify_chain.sh", trail.reference, str(trail.db))
    assert chain_check.returncode == 0
    checkpoints = run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db))
    assert checkpoints.returncode == 1
    assert checkpoints.stdout.startswith("ÉCHEC : entrée attestée absente")
    code, problems = verify_findings(trail.db)
    assert code == EXIT_NOT_INTACT
    assert "chain_truncated" in problems


@needs_shell
def test_a_tail_cut_after_the_last_checkpoint_goes_unnoticed_as_documented(
    trail: Trail, tmp_path: Path
) -> None:
    """The documented limit: after the last checkpoint, a rewritten head hides a removed tail."""
    chain = case_id(trail.db, trail.reference)
    tamper(
        trail.db,
        f"DELETE FROM audit_entries WHERE chain_id = {chain} AND seq = 6;"
        "UPDATE cases SET head_seq = 5, head_hash = (SELECT hash FROM audit_entries "
        f"WHERE chain_id = {chain} AND seq = 5) WHERE id = {chain};",
    )
    chain_check = run_shell_recipe(tmp_path, "verify_chain.sh", trail.reference, str(trail.db))
    assert chain_check.returncode == 0
    assert run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db)).returncode == 0
    assert verify_findings(trail.db) == (0, set())


@needs_shell
def test_a_deleted_case_is_caught_through_the_checkpoint(trail: Trail, tmp_path: Path) -> None:
    """A case deleted with its chain fails verify_checkpoints.sh and ``jalon audit verify``."""
    chain = case_id(trail.db, trail.other)
    tamper(
        trail.db,
        f"DELETE FROM audit_entries WHERE chain_id = {chain};DELETE FROM cases WHERE id = {chain};",
    )
    assert run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db)).returncode == 1
    code, problems = verify_findings(trail.db)
    assert code == EXIT_NOT_INTACT
    assert "case_deleted" in problems


def _hide_deleted_case_in_checkpoint(trail: Trail) -> None:
    """Delete a case, then rewrite the checkpoint's heads and its heads_digest *column*."""
    chain = case_id(trail.db, trail.other)
    tamper(
        trail.db,
        f"DELETE FROM audit_entries WHERE chain_id = {chain}; DELETE FROM cases WHERE id = {chain};"
        f"DELETE FROM audit_checkpoint_heads WHERE chain_id = {chain};",
    )
    with closing(sqlite3.connect(trail.db)) as connection:
        for (checkpoint,) in connection.execute("SELECT id FROM audit_checkpoints").fetchall():
            heads = connection.execute(
                "SELECT chain_id, seq, hash FROM audit_checkpoint_heads "
                "WHERE checkpoint_id = ? ORDER BY chain_id",
                (checkpoint,),
            ).fetchall()
            lines = "".join(f"{chain_id}:{seq}:{hash_}\n" for chain_id, seq, hash_ in heads)
            connection.execute(
                "UPDATE audit_checkpoints SET chains = ?, heads_digest = ? WHERE id = ?",
                (len(heads), hashlib.sha256(lines.encode("utf-8")).hexdigest(), checkpoint),
            )
        connection.commit()


@needs_shell
def test_shell_checkpoint_recipe_catches_rewritten_checkpoint_heads(
    trail: Trail, tmp_path: Path
) -> None:
    """Heads and heads_digest column rewritten: the hashed body still names the old digest."""
    _hide_deleted_case_in_checkpoint(trail)
    result = run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db))
    assert (result.returncode, result.stdout) == (1, "ÉCHEC : point de contrôle 1\n")


def test_jalon_verify_catches_rewritten_checkpoint_heads(trail: Trail) -> None:
    """Heads and the heads_digest column rewritten together are caught by the hashed body."""
    _hide_deleted_case_in_checkpoint(trail)
    assert verify_findings(trail.db)[0] == EXIT_NOT_INTACT


@needs_shell
def test_swapped_chains_are_caught_by_the_chain_recipe_and_by_the_checkpoint(
    trail: Trail, tmp_path: Path
) -> None:
    """Two cases' chains swapped, heads rewritten: each body names the other case."""
    a, _b = swap_chains(trail.db, trail.reference, trail.other)
    result = run_shell_recipe(tmp_path, "verify_chain.sh", trail.reference, str(trail.db))
    assert (result.returncode, result.stdout) == (1, f"ÉCHEC : chaîne {a}, entrée 1\n")
    assert run_shell_recipe(tmp_path, "verify_checkpoints.sh", str(trail.db)).returncode == 1
    code, problems = verify_findings(trail.db)
    assert code == EXIT_NOT_INTACT
    assert "chain_moved" in problems, problems
    assert problems <= {"chain_moved", "checkpoint_mismatch", "chain_truncated"}, problems


@needs_shell
def test_swapped_chains_without_checkpoint_are_caught_by_the_first_body(
    unsealed: tuple[Path, str, str], tmp_path: Path
) -> None:
    """Without any checkpoint, a swap is caught by the first entry of each chain."""
    db, first, second = unsealed
    swap_chains(db, first, second)
    assert verify_findings(db) == (EXIT_NOT_INTACT, {"chain_moved"})
    for reference in (first, second):
        result = run_shell_recipe(tmp_path, "verify_chain.sh", reference, str(db))
        assert result.returncode == 1
        assert result.stdout.endswith(", entrée 1\n")
    exported = jalon(db, "audit", "trail", first, "--json")
    verifier = run_python_verifier(tmp_path, exported.stdout.splitlines())
    assert verifier.returncode == 0  # the export alone is consistent...
    printed_chain = verifier.stdout.rsplit("tête ", 1)[1].split(":", 1)[0]
    assert printed_chain != str(case_id(db, first))  # ...but its head is not the case's


# ---------------------------------------------------------------------- the query by kind


def test_query_by_kind_reads_the_steps_of_the_month_from_the_bodies(trail: Trail) -> None:
    """The doc's query returns every transition of March 2026, as the bodies say, in order."""
    with closing(sqlite3.connect(trail.db)) as connection:
        rows = connection.execute(doc_block("steps_of_the_month.sql")).fetchall()
        facts = [
            (chain_id, seq, json.loads(body))
            for chain_id, seq, body in connection.execute(
                "SELECT chain_id, seq, body FROM audit_entries"
            )
        ]
    expected = sorted(
        (
            (chain_id, seq, fact["at"], fact["actor"], fact["from"], fact["to"])
            for chain_id, seq, fact in facts
            if fact["kind"] == "case.transition" and fact["at"].startswith("2026-03-")
        ),
        key=lambda row: (row[2], row[0], row[1]),
    )
    assert len(expected) == 2
    assert rows == expected


# ---------------------------------------------------------------------- the document's tables


def _problem_codes_of_verify_module() -> set[str]:
    """Every ``problem`` code storage/verify.py can report (third argument of ``find``)."""
    tree = ast.parse(VERIFY_MODULE.read_text(encoding="utf-8"))
    expressions: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "find":
            expressions.append(node.args[2])
        elif isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "problem" for target in node.targets
        ):
            expressions.append(node.value)
    return {
        constant.value
        for expression in expressions
        for constant in ast.walk(expression)
        if isinstance(constant, ast.Constant) and isinstance(constant.value, str)
    }


def test_findings_table_names_every_problem_code_of_verify() -> None:
    """The doc's findings table lists exactly the problem codes storage/verify.py reports."""
    text = DOC.read_text(encoding="utf-8")
    section = text.split("### Findings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    codes = _problem_codes_of_verify_module()
    assert len(codes) >= 10
    assert documented == codes


def test_doc_names_the_append_only_triggers_and_they_refuse_changes(trail: Trail) -> None:
    """Every trigger of the SQLite schema is named in the doc, and UPDATE/DELETE are refused."""
    text = DOC.read_text(encoding="utf-8")
    with closing(sqlite3.connect(trail.db)) as connection:
        names = {
            row[0]
            for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        assert names == {
            f"{table}_no_{operation}"
            for table in APPEND_ONLY_TABLES
            for operation in ("update", "delete")
        }
        for statement in (
            "UPDATE audit_entries SET body = 'x'",
            "DELETE FROM audit_checkpoints",
            "DELETE FROM audit_checkpoint_heads",
        ):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                connection.execute(statement)
    assert all(f"`{name}`" in text for name in names)
