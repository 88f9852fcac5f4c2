"""A small procedure written for the tests, independent of the shipped library."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.clock import FrozenClock
from engine.service import Engine
from storage.database import Database
from workflows.catalogue import Catalogue

ACHAT_V1 = """\
id: achat
version: 1
title: Achat de test
owner: Direction de la commande publique
code: ACH
legal_references: [CCP R2122-8]
fields:
  objet: {type: text, label: Objet}
  montant: {type: amount, label: Montant HT}
  date_besoin: {type: date, label: Date du besoin}
  urgent: {type: boolean, label: Urgent}
  nature: {type: enum, label: Nature, values: [fournitures, services, travaux]}
  lots: {type: list, items: text, label: Lots}
  offres: {type: integer, label: Offres reçues}
states:
  brouillon: {label: Brouillon, initial: true, role: acheteur}
  valide: {label: Validé, role: responsable}
  commande: {label: Commandé, role: acheteur}
  clos: {label: Clos, final: true}
  abandonne: {label: Abandonné, final: true}
transitions:
  - trigger: valider
    source: brouillon
    dest: valide
    label: Valider la demande
    roles: [acheteur, responsable]
    controls:
      - control: required_fields
        params: {fields: [objet, montant]}
      - control: required_fields
        severity: non_blocking
        params: {fields: [date_besoin]}
  - trigger: commander
    source: valide
    dest: commande
    label: Passer commande
    roles: [responsable]
    controls:
      - control: required_documents
        params: {types: [devis]}
  - trigger: clore
    source: commande
    dest: clos
    label: Clore
    roles: [acheteur]
  - trigger: abandonner
    source: [brouillon, valide]
    dest: abandonne
    label: Abandonner
    roles: [responsable]
"""

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def write_library(folder: Path, text: str = ACHAT_V1, name: str = "achat.yaml") -> Path:
    """Write a definition file into ``folder`` and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def make_engine(
    url: str, library: Path, clock: FrozenClock | None = None, **options: Any
) -> Engine:
    """An engine on ``url`` whose catalogue is ``library`` only, on a frozen clock."""
    return Engine(
        Database(url), catalogue=Catalogue([library]), clock=clock or FrozenClock(START), **options
    )
