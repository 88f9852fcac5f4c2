"""Definitions registered by an older release stay registrable when the digest rule changed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.actors import Actor
from engine.errors import DefinitionConflict
from engine.loader import load_definition_text
from storage.canonical import canonical_json
from storage.store import WorkflowRow
from tests.integration.sample_workflow import ACHAT_V1, make_engine, write_library

BOB = Actor("bob", frozenset({"acheteur"}))


def old_digest(source: str) -> str:
    """The rule of the first release: every key, defaults included."""
    definition = load_definition_text(source, "achat.yaml")
    body = canonical_json(definition.model_dump(mode="json"))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def test_a_version_registered_with_the_old_digest_is_the_same_content(
    database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url, write_library(tmp_path / "library"))
    try:
        digest = old_digest(ACHAT_V1)
        definition = load_definition_text(ACHAT_V1, "achat.yaml")
        assert digest != definition.digest()
        with engine.store.write() as tx:
            tx.insert_workflow(
                WorkflowRow("achat", 1, digest, "Achat", ACHAT_V1, "achat.yaml", "t", "old")
            )
        registration = engine.register(definition, ACHAT_V1, "achat.yaml", BOB)
        assert not registration.created
        assert engine.open_case("achat", org="AMP", actor=BOB).row.workflow_version == 1
        changed = ACHAT_V1.replace("title: Achat de test", "title: Achat modifié")
        with pytest.raises(DefinitionConflict):
            engine.register(load_definition_text(changed, "achat.yaml"), changed, "x.yaml", BOB)
    finally:
        engine.close()
