"""The demo's quality scene: a non-blocking control, a derogation, and an NC treated to closure."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from rich.console import Console
from rich.table import Table

from engine.actors import Actor
from engine.clock import FrozenClock
from engine.errors import CommandRefused
from engine.service import Engine

ACHETEUR = Actor("karim.nasri", frozenset({"acheteur"}))
RESPONSABLE = Actor("paul.martin", frozenset({"responsable_achat"}))
DIRECTRICE = Actor("claire.roux", frozenset({"acheteur", "directeur_commande_publique"}))
QUALITE = Actor("nadia.ferrand", frozenset({"responsable_qualite"}))
PILOTE = Actor("pierre.blanc", frozenset({"pilote_processus"}))
PROPRIETAIRE = Actor("luc.moreau", frozenset({"responsable_qualite"}))

JUSTIFICATION = (
    "Avis transmis au BOAMP par téléphone le 12/03 (panne du profil acheteur) ; "
    "l'accusé de réception sera versé au dossier sous 48 heures."
)

Attach = Callable[[str, str, Actor], None]
"""Attach a generated document of a type to a case, as an actor."""


def quality_story(engine: Engine, clock: FrozenClock, attach: Attach, out: Console) -> str:
    """Play the scene and return the reference of the non-conformity treated to closure."""
    out.rule("Contrôles non bloquants, dérogation et non-conformités")
    reference = engine.open_case(
        "mapa",
        org="AMP",
        actor=ACHETEUR,
        values={
            "objet": "Nettoyage des locaux",
            "nature": "services",
            "montant_estime": "60 000",
        },
    ).reference
    out.print(f"Dossier ouvert : [bold]{reference}[/]")
    _step(engine, reference, "valider_besoin", ACHETEUR, out)
    attach(reference, "note_choix_procedure", RESPONSABLE)
    _step(engine, reference, "retenir_procedure_adaptee", RESPONSABLE, out)
    for doc_type in ("reglement_consultation", "cahier_des_charges", "acte_engagement"):
        attach(reference, doc_type, RESPONSABLE)
    out.print("Le DCE est validé sans dire s'il comporte une clause environnementale :")
    raised = _step(engine, reference, "valider_dce", RESPONSABLE, out)
    clock.advance(timedelta(days=2))
    engine.set_values(
        reference,
        {
            "date_lancement": "2026-03-12",
            "date_envoi_avis": "2026-03-12",
            "date_limite_offres": "2026-04-10",
        },
        ACHETEUR,
    )
    out.print("L'avis part sans que sa preuve soit au dossier :")
    _step(engine, reference, "publier_avis", ACHETEUR, out)
    _step(engine, reference, "publier_avis", DIRECTRICE, out, derogation=JUSTIFICATION)
    nc = raised[0]
    _treat(engine, clock, attach, nc, out)
    _register(engine, out)
    return nc


def _treat(engine: Engine, clock: FrozenClock, attach: Attach, nc: str, out: Console) -> None:
    out.print(f"Traitement de [bold]{nc}[/] (ISO 9001 §10.2) :")
    _step(engine, nc, "enregistrer", QUALITE, out)
    engine.set_values(
        nc,
        {"correction": "Clause environnementale renseignée", "date_correction": "2026-03-16"},
        PILOTE,
    )
    _step(engine, nc, "corriger", PILOTE, out)
    engine.set_values(
        nc, {"cause_racine": "Le modèle de DCE ne pose pas la question des clauses"}, PILOTE
    )
    _step(engine, nc, "analyser_cause", PILOTE, out)
    engine.set_values(
        nc,
        {
            "action_corrective": "Ajouter la rubrique « clauses » au modèle de DCE",
            "responsable_action": PROPRIETAIRE.user,
            "echeance_action": "2026-04-30",
        },
        PILOTE,
    )
    _step(engine, nc, "planifier_action", PILOTE, out)
    clock.advance(timedelta(days=30))
    engine.set_values(nc, {"date_realisation": "2026-04-20"}, PROPRIETAIRE)
    attach(nc, "preuve_action", PROPRIETAIRE)
    _step(engine, nc, "realiser_action", PILOTE, out)
    clock.advance(timedelta(days=90))
    engine.set_values(
        nc,
        {
            "critere_efficacite": "Aucun DCE validé sans clause renseignée pendant 3 mois",
            "date_verification": "2026-07-20",
            "resultat_verification": "efficace",
        },
        QUALITE,
    )
    _step(engine, nc, "verifier_efficacite", PROPRIETAIRE, out)
    _step(engine, nc, "verifier_efficacite", QUALITE, out)


def _step(
    engine: Engine,
    reference: str,
    trigger: str,
    actor: Actor,
    out: Console,
    derogation: str | None = None,
) -> list[str]:
    try:
        outcome = engine.fire(reference, trigger, actor, derogation=derogation)
    except CommandRefused as refusal:
        out.print(f"  [yellow]refusé[/] {trigger} par {actor.user} — {refusal.message}")
        return []
    how = " [magenta]par dérogation[/]" if outcome.derogated else ""
    out.print(f"  [green]✓[/] {outcome.from_label} → {outcome.to_label} ({actor.user}){how}")
    for nc in outcome.nonconformities:
        out.print(f"    [yellow]non-conformité ouverte[/] : {nc}")
    return list(outcome.nonconformities)


def _register(engine: Engine, out: Console) -> None:
    table = Table(title="Registre des non-conformités", title_justify="left")
    for column in ("Référence", "État", "Dossier", "Contrôle", "Clause", "Gravité", "Nature"):
        table.add_column(column)
    for row in engine.nonconformities():
        table.add_row(
            row.reference,
            row.state,
            row.source_reference,
            row.control or "—",
            row.clause or "—",
            row.severity,
            row.nature,
        )
    out.print(table)
