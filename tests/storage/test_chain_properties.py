"""Property: any single modification, deletion, insertion or reordering of entries is detected."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.audit import Entry, make_entry
from storage.canonical import ZERO_HASH
from storage.verify import verify_rows

AT = "2026-05-04T08:00:00.000000Z"


def chains(cases: int, length: int) -> tuple[dict[int, tuple[str, int, str]], list[Entry]]:
    heads: dict[int, tuple[str, int, str]] = {}
    rows: list[Entry] = []
    for case_id in range(1, cases + 1):
        prev = ZERO_HASH
        for seq in range(1, length + 1):
            entry = make_entry(
                chain_id=case_id,
                seq=seq,
                prev_hash=prev,
                recorded_at=AT,
                actor=f"agent{seq}",
                kind="case.transition",
                reference=f"R-{case_id}",
                from_state="a",
                to_state="b",
                payload={"n": seq},
            )
            rows.append(entry)
            prev = entry.hash
        heads[case_id] = (f"R-{case_id}", length, prev)
    return heads, rows


sizes = st.tuples(st.integers(1, 4), st.integers(2, 8))


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_any_modified_field_is_detected(size: tuple[int, int], data: st.DataObject) -> None:
    """Changing any stored column of any entry makes verification fail."""
    heads, rows = chains(*size)
    index = data.draw(st.integers(0, len(rows) - 1))
    field = data.draw(st.sampled_from(["body", "prev_hash", "hash"]))
    original = getattr(rows[index], field)
    replacement = data.draw(st.text(min_size=1, max_size=70).filter(lambda v: v != original))
    rows[index] = rows[index]._replace(**{field: replacement})  # type: ignore[arg-type]
    assert not verify_rows(heads, rows).intact


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_any_deleted_entry_is_detected(size: tuple[int, int], data: st.DataObject) -> None:
    """Removing any one entry (first, middle or last of a chain) is detected."""
    heads, rows = chains(*size)
    del rows[data.draw(st.integers(0, len(rows) - 1))]
    assert not verify_rows(heads, rows).intact


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_any_inserted_entry_is_detected(size: tuple[int, int], data: st.DataObject) -> None:
    """Inserting a well-formed entry anywhere in a chain (renumbering what follows) is detected."""
    heads, rows = chains(*size)
    chain_id = data.draw(st.integers(1, size[0]))
    position = data.draw(st.integers(1, size[1] + 1))
    chain = [e for e in rows if e.chain_id == chain_id]
    prev = ZERO_HASH if position == 1 else chain[position - 2].hash
    forged = make_entry(
        chain_id=chain_id,
        seq=position,
        prev_hash=prev,
        recorded_at=AT,
        actor="intrus",
        kind="case.transition",
        reference=f"R-{chain_id}",
    )
    renumbered = [e._replace(seq=e.seq + 1) if e.seq >= position else e for e in chain]
    new_chain = sorted([*renumbered, forged], key=lambda e: e.seq)
    rows = sorted(
        [e for e in rows if e.chain_id != chain_id] + new_chain, key=lambda e: (e.chain_id, e.seq)
    )
    assert not verify_rows(heads, rows).intact


@settings(max_examples=300, deadline=None)
@given(sizes, st.data())
def test_any_reordering_is_detected(size: tuple[int, int], data: st.DataObject) -> None:
    """Swapping the positions of two entries of a chain is detected."""
    heads, rows = chains(*size)
    chain_id = data.draw(st.integers(1, size[0]))
    first, second = sorted(
        data.draw(st.lists(st.integers(1, size[1]), min_size=2, max_size=2, unique=True))
    )
    swapped = []
    for entry in rows:
        if entry.chain_id == chain_id and entry.seq in (first, second):
            swapped.append(entry._replace(seq=second if entry.seq == first else first))
        else:
            swapped.append(entry)
    swapped.sort(key=lambda e: (e.chain_id, e.seq))
    assert not verify_rows(heads, swapped).intact


def test_an_untouched_trail_verifies() -> None:
    """The baseline of the properties above: the generated chains are intact."""
    heads, rows = chains(3, 6)
    assert verify_rows(heads, rows).intact
