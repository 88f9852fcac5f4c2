"""Two small procedures with clocks, written for the tests: a payment and an award."""

from __future__ import annotations

from pathlib import Path

PAIEMENT = """\
id: paiement
version: 1
title: Paiement d'une facture (test)
owner: Direction des finances
code: PAY
fields:
  date_reception: {type: date, label: Date de réception de la demande de paiement}
  montant: {type: amount, label: Montant TTC}
states:
  deposee: {label: Déposée, initial: true}
  en_instruction: {label: En instruction}
  suspendue: {label: Suspendue}
  en_retard: {label: En retard}
  mandatee: {label: Mandatée}
  payee: {label: Payée, final: true}
transitions:
  - trigger: enregistrer
    source: deposee
    dest: en_instruction
    label: Enregistrer la demande
    roles: [comptable]
  - trigger: suspendre
    source: en_instruction
    dest: suspendue
    label: Suspendre (pièces manquantes)
    roles: [comptable]
  - trigger: completer
    source: suspendue
    dest: en_instruction
    label: Pièces reçues
    roles: [comptable]
  - trigger: signaler_retard
    source: en_instruction
    dest: en_retard
    label: Signaler le retard
    roles: [system]
  - trigger: mandater
    source: [en_instruction, en_retard]
    dest: mandatee
    label: Mandater
    roles: [comptable]
  - trigger: payer
    source: mandatee
    dest: payee
    label: Payer
    roles: [comptable]
clocks:
  delai_paiement:
    label: Délai global de paiement
    kind: legal_maximum
    legal_basis: [CCP R2192-10, CCP R2192-27 à R2192-29]
    duration: 30d
    start: {triggers: [enregistrer]}
    start_field: date_reception
    stop: {triggers: [payer]}
    warnings: [5d, 1d]
    interruption: restart
    interrupt_on: [suspendre]
    resume_on: [completer]
    max_interruptions: 1
    on_missed:
      nc_severity: major
      notify: [comptable, responsable_finances]
      escalate: signaler_retard
    late_payment: {amount_field: montant}
  objectif_20_jours:
    label: Engagement de paiement en 20 jours
    kind: internal_target
    duration: 20d
    start: {triggers: [enregistrer]}
    start_field: date_reception
    stop: {triggers: [payer]}
"""

ATTRIBUTION = """\
id: attribution
version: 1
title: Attribution (test)
owner: Direction de la commande publique
code: ATT
fields:
  date_envoi_rejets: {type: date, label: Date d'envoi des lettres de rejet}
  rejets_electroniques: {type: boolean, label: Lettres envoyées par voie électronique}
states:
  analyse: {label: Analyse, initial: true}
  attente: {label: Suspension (standstill)}
  signe: {label: Signé, final: true}
transitions:
  - trigger: envoyer_rejets
    source: analyse
    dest: attente
    label: Envoyer les lettres de rejet
    controls:
      - control: required_fields
        params: {fields: [date_envoi_rejets]}
  - trigger: signer
    source: attente
    dest: signe
    label: Signer le marché
    controls:
      - control: clock_elapsed
        clause: "8.5.1"
        params: {clock: standstill}
        message: Le délai de suspension doit être écoulé avant la signature.
clocks:
  standstill:
    label: Délai de suspension (standstill)
    kind: legal_minimum
    legal_basis: [CCP R2182-1]
    duration: 16d
    variants:
      - {when: rejets_electroniques, duration: 11d}
    start: {triggers: [envoyer_rejets]}
    start_field: date_envoi_rejets
"""


def write_clock_library(folder: Path) -> Path:
    """Write both procedures into ``folder`` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "paiement.yaml").write_text(PAIEMENT, encoding="utf-8")
    (folder / "attribution.yaml").write_text(ATTRIBUTION, encoding="utf-8")
    return folder
