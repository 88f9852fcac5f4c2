"""The compiled workflow: transition tables, firing through transitions, refusals, diagram."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.definition import WorkflowDef
from engine.errors import TriggerNotAllowed
from engine.loader import load_definition
from engine.machine import CompiledWorkflow, compile_workflow

MAPA = Path(__file__).resolve().parents[2] / "workflows" / "mapa.yaml"

HAPPY_PATH = [
    ("besoin", "valider_besoin", "choix_procedure"),
    ("choix_procedure", "retenir_procedure_adaptee", "redaction_dce"),
    ("redaction_dce", "valider_dce", "publicite"),
    ("publicite", "publier_avis", "reception_offres"),
    ("reception_offres", "clore_reception", "analyse_offres"),
    ("analyse_offres", "proposer_attributaire", "attribution"),
    ("attribution", "attribuer", "information_evinces"),
    ("information_evinces", "informer_evinces", "signature"),
    ("signature", "signer", "notification"),
    ("notification", "notifier", "donnees_essentielles"),
    ("donnees_essentielles", "publier_donnees_essentielles", "execution"),
    ("execution", "solder", "cloture"),
    ("cloture", "archiver", "archivage"),
]


@pytest.fixture(scope="module")
def mapa() -> WorkflowDef:
    """The sample MAPA definition."""
    return load_definition(MAPA)


@pytest.fixture(scope="module")
def compiled(mapa: WorkflowDef) -> CompiledWorkflow:
    """The sample MAPA definition, compiled."""
    return compile_workflow(mapa)


def test_next_state_along_the_sample(compiled: CompiledWorkflow) -> None:
    """Firing the happy path of the MAPA goes from 'besoin' to the final 'archivage'."""
    state = compiled.definition.initial_state
    for source, trigger, dest in HAPPY_PATH:
        assert state == source
        state = compiled.next_state(state, trigger)
        assert state == dest
    assert compiled.is_final(state)
    assert not compiled.is_final("besoin")


def test_refusal_from_a_wrong_state(compiled: CompiledWorkflow) -> None:
    """A trigger that exists but not from this state is refused with the state's French label."""
    with pytest.raises(TriggerNotAllowed) as caught:
        compiled.next_state("besoin", "signer")
    message = caught.value.message
    assert "« signer »" in message
    assert "« Définition du besoin »" in message
    assert "Valider le besoin" in message  # what is possible instead
    assert caught.value.details == {"trigger": "signer", "state": "besoin"}


def test_refusal_from_a_final_state(compiled: CompiledWorkflow) -> None:
    """Nothing leaves a final state."""
    with pytest.raises(TriggerNotAllowed, match="aucune"):
        compiled.next_state("archivage", "archiver")


def test_refusal_of_an_unknown_trigger(compiled: CompiledWorkflow) -> None:
    """A trigger the workflow does not have is refused, naming it and the workflow."""
    with pytest.raises(TriggerNotAllowed) as caught:
        compiled.next_state("besoin", "tout_valider")
    assert "« tout_valider » n'existe pas" in caught.value.message
    assert "Marché à procédure adaptée" in caught.value.message


def test_multi_source_transitions(compiled: CompiledWorkflow) -> None:
    """A transition with several sources fires from each of them, and only from them."""
    sources = ["choix_procedure", "redaction_dce", "publicite", "reception_offres"]
    for source in [*sources, "analyse_offres", "attribution"]:
        assert compiled.next_state(source, "declarer_sans_suite") == "sans_suite"
    for source in ("reception_offres", "analyse_offres"):
        assert compiled.next_state(source, "declarer_infructueuse") == "sans_suite"
    with pytest.raises(TriggerNotAllowed):
        compiled.next_state("signature", "declarer_sans_suite")


def test_transition_tables(compiled: CompiledWorkflow) -> None:
    """transitions_from and transition expose the definition's transitions per state."""
    leaving = [t.trigger for t in compiled.transitions_from("choix_procedure")]
    assert leaving == ["revoir_besoin", "retenir_procedure_adaptee", "declarer_sans_suite"]
    found = compiled.transition("reception_offres", "declarer_infructueuse")
    assert found is not None
    assert found.label == "Déclarer la procédure infructueuse"
    assert compiled.transition("besoin", "signer") is None
    assert compiled.transitions_from("archivage") == ()
    assert compiled.transitions_from("inconnu") == ()


def test_compile_is_cached_by_content(mapa: WorkflowDef) -> None:
    """The same content compiles once, whatever the object; another content compiles anew."""
    first = compile_workflow(mapa)
    assert compile_workflow(mapa) is first
    copy = WorkflowDef.model_validate(mapa.model_dump())
    assert compile_workflow(copy) is first
    changed = mapa.model_copy(update={"version": 3})
    assert compile_workflow(changed) is not first
    assert compile_workflow(changed).digest == changed.digest()


def test_thread_safety(compiled: CompiledWorkflow) -> None:
    """Several threads firing on one compiled workflow each get the right destinations."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def run(offset: int) -> None:
        try:
            barrier.wait()
            for round_ in range(300):
                source, trigger, dest = HAPPY_PATH[(offset + round_) % len(HAPPY_PATH)]
                assert compiled.next_state(source, trigger) == dest
                if round_ % 7 == 0:
                    with pytest.raises(TriggerNotAllowed):
                        compiled.next_state(source, "archiver" if source != "cloture" else "x")
        except BaseException as error:  # reported to the main thread below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_mermaid_shows_states_and_labels(compiled: CompiledWorkflow) -> None:
    """The diagram is Mermaid with French state labels, transition labels and start/end marks."""
    text = compiled.mermaid()
    assert "stateDiagram-v2" in text
    assert 'title: "Marché à procédure adaptée (MAPA) (v2)"' in text
    assert 'state "Définition du besoin" as besoin' in text
    assert 'state "Publication des données essentielles (DECP)" as donnees_essentielles' in text
    assert "publicite --> reception_offres: Publier l'avis de marché" in text
    assert "[*] --> besoin" in text
    assert "archivage --> [*]" in text
    assert "sans_suite --> [*]" in text
    assert "s_active" not in text.split("stateDiagram-v2")[1].split("classDef s_previous")[1]
    assert text.endswith("\n")


def test_mermaid_escapes_labels() -> None:
    """Quotes, colons and semicolons in labels cannot break the Mermaid text."""
    definition = WorkflowDef.model_validate(
        {
            "id": "x",
            "version": 1,
            "code": "XX",
            "title": 'Titre "cité"',
            "owner": "o",
            "states": {
                "a": {"label": 'Étape "A" : début', "initial": True},
                "b": {"label": "Fin", "final": True},
            },
            "transitions": [
                {"trigger": "t", "source": "a", "dest": "b", "label": "Art. 1 : suite; fin"}
            ],
        }
    )
    text = compile_workflow(definition).mermaid()
    body = text.split("stateDiagram-v2")[1]
    state_line = next(line for line in body.splitlines() if line.strip().endswith("as a"))
    assert state_line.count('"') == 2
    edge = next(line for line in body.splitlines() if "a --> b" in line)
    assert edge.count(":") == 1
    assert ";" not in edge


def test_names_that_clash_with_transitions_or_mermaid() -> None:
    """Triggers and states named like the model's attributes or Mermaid keywords still work."""
    definition = WorkflowDef.model_validate(
        {
            "id": "x",
            "version": 1,
            "code": "XX",
            "title": "t",
            "owner": "o",
            "states": {
                "state": {"label": "S", "initial": True},
                "trigger": {"label": "T"},
                "end": {"label": "F", "final": True},
            },
            "transitions": [
                {"trigger": "state", "source": "state", "dest": "trigger", "label": "a"},
                {"trigger": "trigger", "source": "trigger", "dest": "end", "label": "b"},
                {"trigger": "is_state", "source": "trigger", "dest": "state", "label": "c"},
                {"trigger": "may_trigger", "source": "state", "dest": "end", "label": "d"},
            ],
        }
    )
    compiled = compile_workflow(definition)
    assert compiled.next_state("state", "state") == "trigger"
    assert compiled.next_state("trigger", "trigger") == "end"
    assert compiled.next_state("trigger", "is_state") == "state"
    assert compiled.next_state("state", "may_trigger") == "end"
    diagram = compiled.mermaid()
    assert "state_ --> trigger: a" in diagram
    assert "end_ --> [*]" in diagram


def test_the_machine_table_is_the_definition(compiled: CompiledWorkflow) -> None:
    """Every (source, trigger) of the definition is in the transitions machine, and only those."""
    from_machine = {
        (transition.source, trigger): transition.dest
        for trigger, event in compiled.machine.events.items()
        for found in event.transitions.values()
        for transition in found
    }
    from_definition = {
        (source, t.trigger): t.dest for t in compiled.definition.transitions for source in t.sources
    }
    assert from_machine == from_definition
