"""A definition's digest: content only, computed once per object, anew for a changed copy."""

from __future__ import annotations

from engine.definition import WorkflowDef, content_digest
from workflows.catalogue import Catalogue, library_dir


def test_the_digest_is_kept_and_a_changed_copy_gets_its_own() -> None:
    mapa = Catalogue([library_dir()]).get("mapa")
    first = mapa.digest()
    assert mapa.digest() is first  # computed once
    assert first == content_digest(mapa)
    changed = mapa.model_copy(update={"title": "MAPA bis"})
    assert changed.digest() != first
    assert changed.digest() == content_digest(changed)
    assert mapa.model_copy().digest() == first
    assert WorkflowDef.model_validate(mapa.model_dump()).digest() == first
