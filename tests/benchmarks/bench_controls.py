"""What five controls cost on a durable transition: ``Engine.fire`` with five controls vs none.

Issue 3 asks for the durable transition rate of the foundation's benchmark cycle with five
controls on the transition, reported beside the rate without controls; the controls may cost
at most 15 %: the target is ``rate with five controls / rate without ≥ 85 %``.

Each variant has its own database, migrated by ``storage.migrate``, holding the same cases
opened through the engine (untimed): the same data (nature, amount, three dates) and the same
two attached documents. Only the definition differs: the cycle ``a -> b -> a`` whose two
transitions carry

* no control (the baseline of the target);
* five controls that all pass (the measured variant): ``required_fields`` under a ``when``
  condition (CEL), ``rule`` (a CEL comparison of the amount with a dated parameter),
  ``threshold`` (the amount against a dated parameter table), ``delay`` (a standstill period
  between two date fields on the French legal calendar) and ``required_documents`` (reads the
  case's documents: one more SELECT per step);
* informative, on SQLite: the same with ``four_eyes`` instead of ``required_documents`` (reads
  the case's whole history: one SELECT and one JSON parse per audit entry of the case). The
  trigger it names, ``rediger_rapport`` (``a -> c``), is in every variant and never fired.

The raw driver baseline of ``transitions_sqlite`` / ``transitions_postgres`` (UPDATE + INSERT +
COMMIT) runs in the same interleaved slices, for context. Every step must pass all of its
controls (checked on each ``FireOutcome``), and the trails are verified intact afterwards.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event

from engine.controls import ControlResult, catalogue, evaluate
from engine.definition import ControlRef
from engine.log import configure_logging
from engine.service import Engine
from storage.audit import Entry, make_entry
from storage.canonical import utc_text
from storage.migrate import upgrade
from tests.pgserver import PostgresServer
from workflows.catalogue import Catalogue

from .bench_transitions_postgres import Job, Pool
from .bench_transitions_sqlite import RawSqlite
from .common import (
    Comparison,
    Sample,
    Series,
    Sizes,
    Stopwatch,
    interleave,
    print_comparisons,
    print_table,
)
from .cycle import (
    AGENT,
    AT,
    ORG,
    TRIGGER_FROM,
    WORKFLOW_ID,
    RoundRobin,
    handles,
    make_engine,
    verified_body_size,
    write_definition,
)
from .cycle import open_cases as open_plain_cases

NAME_SQLITE = "controls_sqlite"
NAME_POSTGRES = "controls_postgres"
TARGET = 0.85
"""With five controls, at least 85 % of the rate without (the controls cost at most 15 %)."""
UNIT = "durable transitions/s"

FOUR_CONTROLS = """\
      - control: required_fields
        params:
          fields: [objet, montant_estime, date_lancement]
          when: 'nature == "fournitures"'
      - control: rule
        params:
          expression: 'montant_estime < param("seuil_procedure_formalisee_fcs_collectivites")'
          reference_date_field: date_lancement
      - control: threshold
        params:
          field: montant_estime
          table: seuil_publicite_mapa
          comparison: at_least
          reference_date_field: date_lancement
      - control: delay
        params:
          from_field: date_envoi_lettres_rejet
          to_field: date_signature
          period: 11d
          kind: minimum
"""
"""The four controls on the case's data, the same in both controlled variants."""

DOCUMENTS_CONTROL = """\
      - control: required_documents
        params: {types: [rapport_analyse_offres, lettre_rejet]}
"""
FOUR_EYES_CONTROL = """\
      - control: four_eyes
        params: {not_actor_of: [rediger_rapport]}
"""

FIVE = "required_fields (when), rule, threshold, delay, required_documents"
"""The five controls of the measured variant, as the output names them."""
FIVE_FOUR_EYES = "required_fields (when), rule, threshold, delay, four_eyes"
"""The five controls of the informative variant."""

_DEFINITION = """\
id: banc
version: 1
code: BANC
title: Banc d'essai des contrôles (cycle a <-> b)
owner: Benchmarks
fields:
  objet:
    type: text
    label: Objet du marché
  nature:
    type: enum
    label: Nature du marché
    values: [fournitures, services, travaux]
  montant_estime:
    type: amount
    label: Montant estimé (€ HT)
  date_lancement:
    type: date
    label: Date de lancement de la consultation
  date_envoi_lettres_rejet:
    type: date
    label: Date d'envoi des lettres de rejet
  date_signature:
    type: date
    label: Date de signature du marché
states:
  a:
    label: Étape A
    initial: true
    documents: [rapport_analyse_offres]
  b:
    label: Étape B
    documents: [lettre_rejet]
  c:
    label: Rapport rédigé par un tiers (jamais atteint ici)
    final: true
transitions:
  - trigger: rediger_rapport
    source: a
    dest: c
    label: Rédiger le rapport (le déclencheur que nomme four_eyes)
    roles: [redacteur]
  - trigger: aller
    source: a
    dest: b
    label: Aller en B
    roles: [agent]
{controls}  - trigger: retour
    source: b
    dest: a
    label: Revenir en A
    roles: [agent]
{controls}"""

CASE_VALUES: Mapping[str, str] = {
    "nature": "fournitures",
    "montant_estime": "150000.00",
    "date_lancement": "2026-05-04",
    "date_envoi_lettres_rejet": "2026-06-01",
    "date_signature": "2026-06-15",
}
"""Every case's data besides its ``objet``: every control of the five passes on it."""

DOCUMENT_TYPES = ("rapport_analyse_offres", "lettre_rejet")
"""The documents attached to every case (in every variant, controlled or not)."""

NONE_KEY, FIVE_KEY, FOUR_EYES_KEY = "none", "five", "four_eyes"
CONTROLS_OF: dict[str, str] = {
    NONE_KEY: "",
    FIVE_KEY: FOUR_CONTROLS + DOCUMENTS_CONTROL,
    FOUR_EYES_KEY: FOUR_CONTROLS + FOUR_EYES_CONTROL,
}
"""Variant key -> the controls of each of its two transitions (YAML items)."""


def definition_text(controls: str) -> str:
    """The cycle's definition with ``controls`` (YAML list items) on both transitions."""
    block = f"    controls:\n{controls}" if controls else ""
    return _DEFINITION.format(controls=block)


def write_definitions(folder: Path) -> dict[str, Path]:
    """Write one folder per variant, each checked against the control catalogue; by key."""
    folders = {}
    for key, controls in CONTROLS_OF.items():
        where = folder / key
        where.mkdir(parents=True, exist_ok=True)
        (where / "banc.yaml").write_text(definition_text(controls), encoding="utf-8")
        checked = Catalogue([where], known_controls=catalogue())
        if checked.problems:
            raise RuntimeError(f"benchmark definition {key} rejected: {checked.problems}")
        folders[key] = where
    return folders


def write_documents(folder: Path) -> list[tuple[str, Path]]:
    """Write one small file per document type; (type, path) pairs to attach to every case."""
    folder.mkdir(parents=True, exist_ok=True)
    documents = []
    for doc_type in DOCUMENT_TYPES:
        path = folder / f"{doc_type}.pdf"
        path.write_bytes(f"%PDF-1.4 {doc_type}\n".encode() * 64)
        documents.append((doc_type, path))
    return documents


def open_cases(engine: Engine, count: int, documents: Sequence[tuple[str, Path]]) -> list[str]:
    """Open ``count`` cases with ``CASE_VALUES`` and attach ``documents``; their references."""
    references = []
    for number in range(count):
        values = {**CASE_VALUES, "objet": f"Fournitures de bureau, lot {number}"}
        reference = engine.open_case(WORKFLOW_ID, org=ORG, actor=AGENT, values=values).reference
        for doc_type, path in documents:
            engine.attach(reference, path, doc_type, AGENT)
        references.append(reference)
    return references


def _sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def _chain_lengths(engine: Engine, references: Sequence[str]) -> tuple[int, int]:
    """The shortest and longest chain (audit entries) among the cases."""
    lengths = [engine.show(reference).row.head_seq for reference in references]
    return min(lengths), max(lengths)


class Firing:
    """``Engine.fire`` round-robin over the cases of one variant, in its own SQLite file."""

    def __init__(
        self, path: Path, folder: Path, sizes: Sizes, documents: Sequence[tuple[str, Path]]
    ) -> None:
        self.path = path
        upgrade(_sqlite_url(path))
        self.engine = make_engine(_sqlite_url(path), folder)
        self.references = open_cases(self.engine, sizes.cases, documents)
        self.firing = RoundRobin(self.engine, self.references)
        self.firing.fire(len(self.references))  # warm-up: compiled workflow, caches, statements
        self.chains_at_start = _chain_lengths(self.engine, self.references)
        self.count = sizes.slice
        self.controls = 0

    def __call__(self) -> Sample:
        with Stopwatch() as watch:
            tally = self.firing.fire(self.count)
        self.controls += tally.controls
        return watch.sample(tally.transitions)

    def describe(self) -> str:
        """Verify the whole trail written (untimed); body size and chain lengths."""
        entries, body = verified_body_size(self.engine, self.path)
        low, high = self.chains_at_start
        end_low, end_high = _chain_lengths(self.engine, self.references)
        return (
            f"{entries} entries verified intact; transition body {body:.0f} bytes; "
            f"entries per case {low}–{high} after warm-up, {end_low}–{end_high} at the end"
        )


def _cpu_micros(action: Callable[[], object], count: int, repeat: int = 3) -> float:
    """CPU microseconds per call of ``action()`` over ``count`` calls: the best of ``repeat``."""
    best = float("inf")
    for _ in range(repeat):
        began = time.process_time()
        for _number in range(count):
            action()
        best = min(best, (time.process_time() - began) / count)
    return 1e6 * best


def _synchronous_off(dbapi_connection: Any, _record: object) -> None:
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def _transition_payload(results: Sequence[ControlResult]) -> dict[str, Any]:
    return {
        "trigger": "aller",
        "roles": sorted(AGENT.roles),
        "controls": [result.as_payload() for result in results],
    }


_NOTES = {
    "required_fields": " (its `when` is CEL)",
    "rule": " (CEL)",
    "required_documents": " (from the cached history)",
}


def _chains(engine: Engine, references: Sequence[str]) -> str:
    low, high = _chain_lengths(engine, references)
    return f"{low}" if low == high else f"{low}–{high}"


def breakdown(
    workdir: Path, folders: Mapping[str, Path], documents: Sequence[tuple[str, Path]], sizes: Sizes
) -> None:
    """Where the controls' cost goes: CPU µs per step, then per control in isolation.

    Fresh files with ``synchronous=OFF`` take the disk out. First ``Engine.fire`` per variant;
    then a read transaction that loads the case and builds the snapshot as ``fire`` does,
    evaluating nothing, each control alone, or all five (each evaluation gets a fresh
    snapshot; a control that reads the documents or the history reads the engine's per-case
    history cache, as ``fire`` does); last, the audit entry with and without the five results.
    The case's history length is shown: ``four_eyes`` walks it.
    """
    count = max(sizes.slice * 4, 1_000)
    engines: dict[str, Engine] = {}
    references: dict[str, list[str]] = {}
    rows: list[list[str]] = []
    fire_micros: dict[str, float] = {}
    chains: dict[str, str] = {}
    for key, folder in folders.items():
        path = workdir / f"breakdown-{key}.db"
        upgrade(_sqlite_url(path))
        opener = make_engine(_sqlite_url(path), folder)
        references[key] = open_cases(opener, sizes.cases, documents)
        opener.close()
        engine = make_engine(_sqlite_url(path), folder)
        # After storage.database's own set-up (synchronous=FULL), on every new connection:
        event.listen(engine.database.engine, "connect", _synchronous_off)
        engine.database.dispose()
        with engine.store.read() as tx:
            if tx.execute("PRAGMA synchronous").fetchone()[0] != 0:
                raise AssertionError("breakdown database still synchronous")
        firing = RoundRobin(engine, references[key])
        firing.fire(len(references[key]))
        before = _chains(engine, references[key])
        fire_micros[key] = _cpu_micros(functools.partial(firing.fire, 1), 10 * sizes.cases)
        chains[key] = f"{before} → {_chains(engine, references[key])}"
        engines[key] = engine
    none = fire_micros[NONE_KEY]
    for key, label in (
        (NONE_KEY, "Engine.fire, no control"),
        (FIVE_KEY, f"Engine.fire, five controls ({FIVE})"),
        (FOUR_EYES_KEY, "Engine.fire, four_eyes instead of required_documents"),
    ):
        micros = fire_micros[key]
        added = "" if key == NONE_KEY else f"{micros - none:+.1f}"
        rows.append([f"{label}; entries per case {chains[key]}", f"{micros:.1f}", added])

    def in_snapshot(key: str, refs: Sequence[ControlRef]) -> Callable[[], object]:
        engine = engines[key]
        cases = references[key]
        turn = itertools.count()

        def action() -> object:
            reference = cases[next(turn) % len(cases)]
            with engine.store.read() as tx:
                case, compiled = engine._load(tx, reference, None)
                snapshot = engine._snapshot(tx, case, compiled, AGENT)
                return evaluate(refs, snapshot)

        return action

    def controls_of(key: str) -> tuple[ControlRef, ...]:
        with engines[key].store.read() as tx:
            _case, compiled = engines[key]._load(tx, references[key][0], None)
        transition = compiled.transition("a", TRIGGER_FROM["a"])
        assert transition is not None
        return tuple(transition.controls)

    five = controls_of(FIVE_KEY)
    four_eyes = controls_of(FOUR_EYES_KEY)[-1]
    unconditional = five[0].model_copy(update={"params": {"fields": five[0].params["fields"]}})
    bare = _cpu_micros(in_snapshot(FIVE_KEY, ()), count)
    isolated = [(FIVE_KEY, ref, f"{ref.control}{_NOTES.get(ref.control, '')}") for ref in five]
    isolated += [
        (
            FOUR_EYES_KEY,
            four_eyes,
            f"four_eyes (history of {_chains(engines[FOUR_EYES_KEY], references[FOUR_EYES_KEY])}"
            " entries)",
        ),
        (FIVE_KEY, unconditional, "for comparison: required_fields without `when`"),
    ]
    measured = [
        (f"  + {label} alone", _cpu_micros(in_snapshot(key, (ref,)), count))
        for key, ref, label in isolated
    ]
    measured.append(("  + the five together", _cpu_micros(in_snapshot(FIVE_KEY, five), count)))
    bare = min(bare, _cpu_micros(in_snapshot(FIVE_KEY, ()), count))  # before and after: the best
    rows.append(["read tx + load case + snapshot, no control evaluated", f"{bare:.1f}", ""])
    rows += [[label, f"{micros:.1f}", f"{micros - bare:+.1f}"] for label, micros in measured]

    results = in_snapshot(FIVE_KEY, five)()
    assert isinstance(results, tuple)
    with engines[FIVE_KEY].store.read() as tx:
        case, _compiled = engines[FIVE_KEY]._load(tx, references[FIVE_KEY][0], None)
    at = utc_text(AT)
    first = 0.0
    for label, chosen in (("no control result", ()), ("five results", results)):

        def entry(chosen: Sequence[ControlResult] = chosen) -> Entry:
            return make_entry(
                chain_id=case.id,
                seq=case.head_seq + 1,
                prev_hash=case.head_hash,
                recorded_at=at,
                actor=AGENT.user,
                kind="case.transition",
                reference=case.reference,
                from_state="a",
                to_state="b",
                payload=_transition_payload(chosen),
            )

        micros = _cpu_micros(entry, count)
        size = len(entry().body.encode())
        added = f"{micros - first:+.1f}" if first else ""
        rows.append([f"audit entry, {label} ({size} bytes)", f"{micros:.1f}", added])
        first = first or micros
    for engine in engines.values():
        engine.close()
    print_table(
        "Controls, CPU µs per step (synchronous=OFF, best of 3)",
        ["step", "CPU µs", "adds"],
        rows,
    )


RAW_SQLITE = "raw sqlite3"
NONE_SQLITE = "Engine.fire, no control"
FIVE_SQLITE = "Engine.fire, five controls"
FOUR_EYES_SQLITE = "Engine.fire, five with four_eyes"


def _cost_rows(series: Mapping[str, Series], raw: str) -> list[list[str]]:
    baseline = series[raw]
    return [
        [
            name,
            f"{1000 / one.rate:.3f}",
            f"{one.cpu_ms:.3f}",
            "—" if name == raw else f"+{one.cpu_ms - baseline.cpu_ms:.3f}",
        ]
        for name, one in series.items()
    ]


def run_sqlite(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """SQLite: measure, print the tables, and return the comparisons."""
    configure_logging("json", "WARNING")  # before the engines are built (they bind a logger)
    folders = write_definitions(workdir / "definitions")
    plain = write_definition(workdir / "definitions" / "raw")
    documents = write_documents(workdir / "documents")
    base = workdir / "sqlite-controls"
    base.mkdir(parents=True, exist_ok=True)
    slices = max(1, sizes.transitions // sizes.slice)
    print(
        f"  {slices * sizes.slice} transitions per variant over {sizes.cases} cases, in "
        f"{slices} interleaved slices of {sizes.slice}; WAL, synchronous=FULL; one commit per "
        "transition; logging at WARNING.\n"
        f"  five controls on each transition: {FIVE}.\n"
        f"  informative: {FIVE_FOUR_EYES} (reads the case's history).\n"
        f"  target: five controls / no control ≥ {TARGET:.0%} (the controls cost ≤ "
        f"{1 - TARGET:.0%}).",
        flush=True,
    )
    raw = RawSqlite(base / "raw.db", plain, sizes)
    firings = {
        NONE_SQLITE: Firing(base / "none.db", folders[NONE_KEY], sizes, documents),
        FIVE_SQLITE: Firing(base / "five.db", folders[FIVE_KEY], sizes, documents),
        FOUR_EYES_SQLITE: Firing(base / "four-eyes.db", folders[FOUR_EYES_KEY], sizes, documents),
    }
    variants: dict[str, Callable[[], Sample]] = {RAW_SQLITE: raw, **firings}
    print("    columns: " + " | ".join(variants), flush=True)
    series = interleave(slices, variants)
    series[FIVE_SQLITE].name = f"{FIVE_SQLITE} ({FIVE})"
    series[FOUR_EYES_SQLITE].name = f"{FIVE_SQLITE} ({FIVE_FOUR_EYES})"
    comparisons = [
        Comparison(
            NAME_SQLITE,
            "five controls / no control",
            UNIT,
            series[FIVE_SQLITE],
            series[NONE_SQLITE],
            TARGET,
        ),
        Comparison(
            NAME_SQLITE,
            "five with four_eyes / no control (informative)",
            UNIT,
            series[FOUR_EYES_SQLITE],
            series[NONE_SQLITE],
            None,
        ),
        Comparison(
            NAME_SQLITE,
            "no control / raw sqlite3 (informative)",
            UNIT,
            series[NONE_SQLITE],
            series[RAW_SQLITE],
            None,
        ),
        Comparison(
            NAME_SQLITE,
            "five controls / raw sqlite3 (informative)",
            UNIT,
            series[FIVE_SQLITE],
            series[RAW_SQLITE],
            None,
        ),
    ]
    print_comparisons("SQLite, durable transitions with and without controls", comparisons)
    print_table(
        "SQLite, cost per commit (wall from the totals; CPU of this process)",
        ["variant", "wall ms", "CPU ms", "CPU ms over raw"],
        _cost_rows(series, RAW_SQLITE),
    )
    _print_cost(comparisons[0], series[FIVE_SQLITE], series[NONE_SQLITE])
    for name, firing in firings.items():
        per_step = firing.controls / series[name].operations
        print(f"  {name}: {per_step:g} controls per transition; {firing.describe()}")
    if sizes.profile:
        breakdown(base, folders, documents, sizes)
    for firing in firings.values():
        firing.engine.close()
    raw.connection.close()
    return comparisons


def _print_cost(comparison: Comparison, five: Series, none: Series) -> None:
    low, high = comparison.ratio_quartiles
    print(
        f"  five controls: {comparison.ratio:.1%} of the rate without (IQR {low:.1%}–{high:.1%}),"
        f" i.e. a cost of {1 - comparison.ratio:.1%} (target ≤ {1 - TARGET:.0%}: "
        f"{'met' if comparison.verdict == 'yes' else 'MISSED'}); ratio of totals "
        f"{comparison.aggregate_ratio:.1%}; "
        f"+{1000 / five.rate - 1000 / none.rate:.3f} wall ms and "
        f"+{five.cpu_ms - none.cpu_ms:.3f} CPU ms per transition.",
        flush=True,
    )


# ---------------------------------------------------------------------------- PostgreSQL

RAW_DB = "bench_controls_raw"
DATABASES = {NONE_KEY: "bench_controls_none", FIVE_KEY: "bench_controls_five"}


def _prepare_postgres(
    server: PostgresServer,
    name: str,
    folder: Path,
    cases: int,
    documents: Sequence[tuple[str, Path]] | None,
) -> list[str]:
    server.create_database(name)
    upgrade(server.url(name))
    engine = make_engine(server.url(name), folder)
    try:
        if documents is None:
            return open_plain_cases(engine, cases)
        return open_cases(engine, cases, documents)
    finally:
        engine.close()


def _settings(server: PostgresServer) -> str:
    names = ("server_version", "fsync", "synchronous_commit")
    with psycopg.connect(server.dsn("postgres")) as connection:
        values = [connection.execute(f"SHOW {name}").fetchone() for name in names]
    return ", ".join(f"{n}={v[0] if v else '?'}" for n, v in zip(names, values, strict=True))


def run_postgres(sizes: Sizes, workdir: Path) -> list[Comparison]:
    """PostgreSQL (1 and 4 worker processes): measure, print the tables, return comparisons."""
    configure_logging("json", "WARNING")
    folders = write_definitions(workdir / "definitions")
    plain = write_definition(workdir / "definitions" / "raw")
    documents = write_documents(workdir / "documents")
    context = multiprocessing.get_context("spawn")
    comparisons: list[Comparison] = []
    cost_rows: list[list[str]] = []
    with PostgresServer(durable=True) as server:
        print(f"  server: {_settings(server)} (started in {server.start_seconds:.1f} s)")
        print(f"  five controls on each transition: {FIVE}.", flush=True)
        raw_refs = _prepare_postgres(server, RAW_DB, plain, sizes.cases, None)
        refs = {
            key: _prepare_postgres(server, database, folders[key], sizes.cases, documents)
            for key, database in DATABASES.items()
        }
        for workers in sizes.pg_workers:
            per_worker = max(1, sizes.slice // workers)
            slices = max(1, sizes.pg_transitions // (per_worker * workers))
            print(
                f"  {workers} worker process(es), {sizes.cases // workers} cases each; "
                f"{slices} interleaved slices of {per_worker * workers} transitions "
                f"({slices * per_worker * workers} per variant).",
                flush=True,
            )
            reader = make_engine(server.url(RAW_DB), plain)
            raw_handles = handles(reader, raw_refs)
            reader.close()
            pools: dict[str, Pool] = {}
            try:
                pools[f"raw psycopg, {workers}w"] = Pool(
                    context,
                    [
                        Job("raw", server.dsn(RAW_DB), plain, (), tuple(raw_handles[i::workers]))
                        for i in range(workers)
                    ],
                    per_worker,
                )
                for key, label in ((NONE_KEY, "no control"), (FIVE_KEY, "five controls")):
                    pools[f"Engine.fire, {label}, {workers}w"] = Pool(
                        context,
                        [
                            Job(
                                "ours",
                                server.url(DATABASES[key]),
                                folders[key],
                                tuple(refs[key][i::workers]),
                                (),
                            )
                            for i in range(workers)
                        ],
                        per_worker,
                    )
                print("    columns: " + " | ".join(pools), flush=True)
                series = interleave(slices, dict(pools))
            finally:
                for pool in pools.values():
                    pool.close()
            raw_series, none_series, five_series = (
                series[name] for name in pools
            )  # in the order the pools were made: raw, no control, five controls
            comparison = Comparison(
                NAME_POSTGRES,
                f"five controls / no control, {workers} worker(s)",
                UNIT,
                five_series,
                none_series,
                TARGET,
            )
            comparisons += [
                comparison,
                Comparison(
                    NAME_POSTGRES,
                    f"no control / raw psycopg, {workers} worker(s) (informative)",
                    UNIT,
                    none_series,
                    raw_series,
                    None,
                ),
            ]
            _print_cost(comparison, five_series, none_series)
            for name, pool in pools.items():
                one = series[name]
                busy = 100 * statistics.fmean(pool.busy)
                cost_rows.append([name, f"{one.cpu_ms:.3f}", f"{busy:.0f}%"])
        print_comparisons("PostgreSQL, durable transitions with and without controls", comparisons)
        print_table(
            "PostgreSQL, client CPU per commit and machine CPU use (2 cores = 100%)",
            ["variant", "client CPU ms per commit", "machine CPU busy"],
            cost_rows,
        )
        for key, database in DATABASES.items():
            reader = make_engine(server.url(database), folders[key])
            report = reader.verify()
            reader.close()
            if not report.intact:
                raise AssertionError(f"{database}: trail not intact: {report.findings[:3]}")
            print(f"  {database}: {report.entries} entries verified intact", flush=True)
    return comparisons
