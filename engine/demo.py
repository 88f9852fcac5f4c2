"""``jalon demo``: a scripted walk of a MAPA through every step, on a fresh SQLite file.

It shows a case opened and filled in, documents fingerprinted, steps refused by a control or
by a role (and the refusals recorded), a procedure declared sans suite, a non-blocking control
and a derogation raising non-conformities, one of them treated to closure
(``engine.demo_quality``), a supplier payment interrupted then paid late while the scheduler
sweeps simulated days (``engine.demo_clocks``), and the hash-chained trail verified and sealed
by a checkpoint.
Time is simulated.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.demo_clocks import clocks_story
from engine.demo_quality import quality_story
from engine.errors import CommandRefused
from engine.log import configure_logging
from engine.service import Engine
from storage.database import Database

DEFAULT_DEMO_FILE = "jalon-demo.db"
START = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)

ACHETEUSE = Actor("marie.durand", frozenset({"acheteur"}))
RESPONSABLE = Actor("paul.martin", frozenset({"responsable_achat"}))
SIGNATAIRE = Actor("vice.president", frozenset({"signataire"}))
COMPTABLE = Actor("sophie.bernard", frozenset({"comptable"}))

# (trigger, actor, documents to attach first, fields to set first, days spent before)
HAPPY_PATH: list[tuple[str, Actor, list[str], dict[str, str], int]] = [
    ("retenir_procedure_adaptee", RESPONSABLE, ["note_choix_procedure"], {}, 2),
    (
        "valider_dce",
        RESPONSABLE,
        ["reglement_consultation", "cahier_des_charges", "acte_engagement"],
        {"clause_environnementale": "oui", "clause_sociale": "non"},
        7,
    ),
    (
        "publier_avis",
        ACHETEUSE,
        ["avis_publicite"],
        {
            "date_lancement": "2026-03-12",
            "date_envoi_avis": "2026-03-12",
            "date_limite_offres": "2026-04-10",
        },
        1,
    ),
    ("clore_reception", ACHETEUSE, [], {"offres_recues": "4"}, 29),
    ("proposer_attributaire", ACHETEUSE, ["rapport_analyse_offres"], {}, 10),
    (
        "attribuer",
        RESPONSABLE,
        [],
        {"attributaire": "Papeterie du Vieux-Port SAS", "montant_attribue": "41 870,00"},
        3,
    ),
    ("informer_evinces", ACHETEUSE, ["lettre_rejet"], {}, 1),
    ("signer", SIGNATAIRE, ["acte_engagement_signe"], {}, 12),
    ("notifier", ACHETEUSE, ["notification"], {"date_notification": "2026-05-12"}, 1),
    ("publier_donnees_essentielles", ACHETEUSE, ["donnees_essentielles"], {}, 20),
    ("solder", COMPTABLE, ["proces_verbal_reception"], {}, 180),
    ("archiver", COMPTABLE, ["decompte_final"], {}, 30),
]


def demo_command(
    db: Annotated[
        Path, typer.Option("--file", help="Fichier SQLite de la démonstration (recréé).")
    ] = Path(DEFAULT_DEMO_FILE),
) -> None:
    """Parcourir un MAPA de bout en bout sur une base SQLite neuve (temps simulé)."""
    configure_logging("console", "ERROR")  # refusals are part of the story, printed below
    out = Console(highlight=False)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    pieces = db.parent / (db.stem + "-pieces")
    pieces.mkdir(parents=True, exist_ok=True)
    clock = FrozenClock(START)
    engine = Engine(Database(str(db)), clock=clock)
    try:
        reference = _walk(engine, clock, pieces, out)
        _sans_suite(engine, clock, out)
        nc = quality_story(
            engine,
            clock,
            lambda case, doc_type, actor: _attach(engine, case, pieces, doc_type, actor),
            out,
        )
        payment = clocks_story(engine, clock, out)
        checkpoint = engine.checkpoint()
        report = engine.verify()
        out.rule("Piste d'audit")
        out.print(
            f"Point de contrôle {checkpoint.seq} : {checkpoint.chains} chaîne(s) scellée(s), "
            f"empreinte {checkpoint.hash[:16]}… (les précédents ont été pris d'eux-mêmes, "
            "toutes les heures de temps simulé)"
        )
        status = "[green]intacte[/]" if report.intact else "[red]altérée[/]"
        out.print(
            f"Vérification : piste {status}, {report.entries} entrée(s) sur "
            f"{report.chains} chaîne(s)."
        )
        _summary(engine, out)
        out.rule("À essayer maintenant")
        if shutil.which("jalon") is None:
            out.print(
                f"  (d'abord, pour avoir la commande jalon : . {Path(sys.prefix)}/bin/activate)"
            )
        for command in (
            f"jalon --db {db} case show {reference}",
            f"jalon --db {db} case history {reference}",
            f"jalon --db {db} audit verify",
            f"jalon --db {db} case list",
            f"jalon --db {db} nc list",
            f"jalon --db {db} nc show {nc}",
            f"jalon --db {db} clocks list",
            f"jalon --db {db} clocks explain {payment} delai_global_paiement",
            "jalon workflows show mapa",
            "jalon workflows diagram mapa",
        ):
            out.print(f"  {command}")
    finally:
        engine.close()


def _attach(engine: Engine, reference: str, pieces: Path, doc_type: str, actor: Actor) -> None:
    path = pieces / f"{reference}-{doc_type}.pdf"
    path.write_text(f"%PDF-1.4\n% {doc_type} du dossier {reference}\n", encoding="utf-8")
    engine.attach(reference, path, doc_type, actor)


def _walk(engine: Engine, clock: FrozenClock, pieces: Path, out: Console) -> str:
    out.rule("Un MAPA de fournitures de bureau à la Métropole")
    view = engine.open_case(
        "mapa",
        org="AMP",
        actor=ACHETEUSE,
        values={"objet": "Fournitures de bureau 2026", "nature": "fournitures"},
    )
    reference = view.reference
    out.print(f"Dossier ouvert : [bold]{reference}[/] — état « {view.state_label} »")
    _attempt(engine, reference, "valider_besoin", ACHETEUSE, out)
    engine.set_values(reference, {"montant_estime": "45 000,50"}, ACHETEUSE)
    out.print("Montant estimé renseigné : 45 000,50 € HT")
    _attempt(engine, reference, "valider_besoin", ACHETEUSE, out)
    _attempt(engine, reference, "retenir_procedure_adaptee", ACHETEUSE, out)
    for trigger, actor, documents, values, days in HAPPY_PATH:
        clock.advance(timedelta(days=days))
        if values:
            engine.set_values(reference, values, actor)
        for doc_type in documents:
            _attach(engine, reference, pieces, doc_type, actor)
        _attempt(engine, reference, trigger, actor, out)
    return reference


def _sans_suite(engine: Engine, clock: FrozenClock, out: Console) -> None:
    out.rule("Une consultation déclarée sans suite")
    clock.advance(timedelta(days=3))
    view = engine.open_case(
        "mapa",
        org="AMP",
        actor=ACHETEUSE,
        values={
            "objet": "Maintenance des fontaines",
            "nature": "services",
            "montant_estime": "18000",
        },
    )
    out.print(f"Dossier ouvert : [bold]{view.reference}[/]")
    _attempt(engine, view.reference, "valider_besoin", ACHETEUSE, out)
    _attempt(engine, view.reference, "declarer_sans_suite", RESPONSABLE, out)
    engine.set_values(
        view.reference,
        {"motif_sans_suite": "Besoin couvert par un accord-cadre existant"},
        RESPONSABLE,
    )
    _attempt(engine, view.reference, "declarer_sans_suite", RESPONSABLE, out)


def _attempt(engine: Engine, reference: str, trigger: str, actor: Actor, out: Console) -> None:
    try:
        outcome = engine.fire(reference, trigger, actor)
    except CommandRefused as refusal:
        out.print(f"  [yellow]refusé[/] {trigger} par {actor.user} — {refusal.message}")
        return
    warnings = [r for r in outcome.results if not r.passed]
    note = f" [yellow]({len(warnings)} contrôle non bloquant en échec)[/]" if warnings else ""
    out.print(f"  [green]✓[/] {outcome.from_label} → {outcome.to_label} ({actor.user}){note}")


def _summary(engine: Engine, out: Console) -> None:
    table = Table(title="Dossiers", title_justify="left")
    for column in ("Référence", "État", "Entrées d'audit", "Refus enregistrés"):
        table.add_column(column)
    for row in engine.list_cases():
        history = engine.history(row.reference)
        refusals = sum(1 for entry in history if entry.kind == "command.refused")
        table.add_row(row.reference, row.state, str(len(history)), str(refusals))
    out.print(table)
