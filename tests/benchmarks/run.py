"""Entry point of ``make bench``: run the benchmarks, print each table and a summary.

``.venv/bin/python -m tests.benchmarks.run`` runs everything at full size;
``--only NAME`` (repeatable) picks benchmarks, ``--quick`` is a smoke run, and every size can
be overridden. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from tests.pgserver import PostgresUnavailable

from .bench_clocks import QUICK_CLOCKS, ClockSizes
from .common import QUICK, Comparison, Sizes, machine, print_table, with_overrides

BENCHMARKS: dict[str, tuple[str, str]] = {
    "transitions_sqlite": ("tests.benchmarks.bench_transitions_sqlite", "run"),
    "transitions_postgres": ("tests.benchmarks.bench_transitions_postgres", "run"),
    "verify": ("tests.benchmarks.bench_verify", "run_sqlite"),
    "verify_postgres": ("tests.benchmarks.bench_verify", "run_postgres"),
    "controls_sqlite": ("tests.benchmarks.bench_controls", "run_sqlite"),
    "controls_postgres": ("tests.benchmarks.bench_controls", "run_postgres"),
    "clocks_sqlite": ("tests.benchmarks.bench_clocks", "run_sqlite"),
    "clocks_postgres": ("tests.benchmarks.bench_clocks", "run_postgres"),
}
"""Benchmark name -> (module, function taking ``(Sizes, workdir)``), in running order."""

CLOCK_BENCHMARKS = frozenset({"clocks_sqlite", "clocks_postgres"})
"""The deadline benchmarks: they also take ``clock_sizes`` (`ClockSizes`)."""


def _workers(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of worker counts") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("worker counts are positive")
    return counts


def _counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError("a comma-separated list of positive numbers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("a comma-separated list of positive numbers")
    return counts


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command line (see ``--help``)."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks.run",
        description="Jalon benchmarks: our figures next to raw baselines measured in the same run.",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(BENCHMARKS),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHMARKS)}",
    )
    parser.add_argument("--quick", action="store_true", help="a short smoke run (small sizes)")
    parser.add_argument("--transitions", type=int, help="SQLite: transitions per variant")
    parser.add_argument("--cases", type=int, help="cases the transitions cycle over")
    parser.add_argument("--pg-transitions", type=int, help="PostgreSQL: transitions per variant")
    parser.add_argument("--pg-workers", type=_workers, help="PostgreSQL concurrency, e.g. 1,4")
    parser.add_argument("--verify-entries", type=int, help="SQLite trail size for verify")
    parser.add_argument("--pg-verify-entries", type=int, help="PostgreSQL trail size")
    parser.add_argument("--chain-length", type=int, help="entries per chain in generated trails")
    parser.add_argument("--slice", type=int, help="transitions per interleaved slice")
    parser.add_argument("--rounds", type=int, help="interleaved passes per verify variant")
    parser.add_argument(
        "--no-sqlmodel", action="store_true", help="skip the informative SQLModel variant"
    )
    parser.add_argument("--clocks", type=int, help="deadlines: clocks due together (10000)")
    parser.add_argument(
        "--lateness-clocks", type=int, help="deadlines: clocks due together for lateness (1000)"
    )
    parser.add_argument(
        "--sweep-batches", type=_counts, help="deadlines: sweep_clocks batch sizes, e.g. 50,200"
    )
    parser.add_argument(
        "--sweepers", type=_counts, help="deadlines: PostgreSQL sweeping processes, e.g. 1,2"
    )
    parser.add_argument("--profile", action="store_true", help="break the time down step by step")
    parser.add_argument(
        "--workdir", type=Path, help="where databases go (kept); default: a temporary directory"
    )
    parser.add_argument("--json", type=Path, help="also write the comparisons to this JSON file")
    parser.add_argument(
        "--strict", action="store_true", help="exit with status 1 when a target is missed"
    )
    return parser.parse_args(argv)


def sizes_from(arguments: argparse.Namespace) -> Sizes:
    """The sizes: defaults or ``--quick``, then each explicit override."""
    return with_overrides(
        QUICK if arguments.quick else Sizes(),
        transitions=arguments.transitions,
        cases=arguments.cases,
        pg_transitions=arguments.pg_transitions,
        pg_workers=arguments.pg_workers,
        verify_entries=arguments.verify_entries,
        pg_verify_entries=arguments.pg_verify_entries,
        chain_length=arguments.chain_length,
        slice=arguments.slice,
        rounds=arguments.rounds,
        workdir=arguments.workdir,
        profile=arguments.profile or None,
        sqlmodel=False if arguments.no_sqlmodel else None,
    )


def clock_sizes_from(arguments: argparse.Namespace) -> ClockSizes:
    """The deadline benchmarks' sizes: defaults or ``--quick``, then each explicit override."""
    base = QUICK_CLOCKS if arguments.quick else ClockSizes()
    overrides = {
        "clocks": arguments.clocks,
        "lateness_clocks": arguments.lateness_clocks,
        "batches": arguments.sweep_batches,
        "pg_sweepers": arguments.sweepers,
    }
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


def _function(name: str) -> Callable[..., list[Comparison]]:
    module_name, attribute = BENCHMARKS[name]
    function: Callable[..., list[Comparison]] = getattr(
        importlib.import_module(module_name), attribute
    )
    return function


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; status 2 if one failed, 1 if ``--strict`` and a target missed."""
    arguments = parse_arguments(argv)
    sizes = sizes_from(arguments)
    clock_sizes = clock_sizes_from(arguments)
    names = [name for name in BENCHMARKS if not arguments.only or name in arguments.only]
    temporary = sizes.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="jalon-bench-")) if temporary else sizes.workdir
    assert workdir is not None
    workdir.mkdir(parents=True, exist_ok=True)
    print("Jalon benchmarks" + (" (--quick: smoke run, figures not meaningful)" * arguments.quick))
    print_table("Machine", ["", ""], [[k, v] for k, v in machine(workdir).items()])
    print(f"sizes: {sizes}", flush=True)
    if CLOCK_BENCHMARKS.intersection(names):
        print(f"deadline sizes: {clock_sizes}", flush=True)
    print(flush=True)
    comparisons: list[Comparison] = []
    failed: list[str] = []
    skipped: list[str] = []
    try:
        for name in names:
            print(f"=== {name}", flush=True)
            began = time.perf_counter()
            try:
                extra = {"clock_sizes": clock_sizes} if name in CLOCK_BENCHMARKS else {}
                comparisons.extend(_function(name)(sizes, workdir / name, **extra))
            except PostgresUnavailable as missing:
                skipped.append(name)
                print(f"--- {name} skipped: PostgreSQL unavailable ({missing.reason})", flush=True)
            except Exception as error:  # one failing benchmark must not hide the others
                failed.append(name)
                print(f"!!! {name} failed: {type(error).__name__}: {error}", flush=True)
                import traceback  # noqa: PLC0415

                traceback.print_exc()
            print(f"=== {name}: {time.perf_counter() - began:.0f} s\n", flush=True)
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(
        "Summary",
        ["benchmark", "variant", "ours", "baseline", "ratio", "target", "met"],
        [[c.benchmark, c.variant, *(c.row()[i] for i in (1, 3, 4, 6, 7))] for c in comparisons],
    )
    if arguments.json is not None:
        arguments.json.write_text(
            json.dumps(
                [
                    {
                        "benchmark": c.benchmark,
                        "variant": c.variant,
                        "unit": c.unit,
                        "ours": [s.rate for s in c.ours.samples],
                        "baseline_name": c.baseline.name,
                        "baseline": [s.rate for s in c.baseline.samples],
                        "ratio": c.ratio,
                        "target": c.target,
                    }
                    for c in comparisons
                ],
                indent=2,
            ),
            encoding="utf-8",
        )
    if skipped:
        print(f"skipped: {', '.join(skipped)}")
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 2
    missed = [f"{c.benchmark}: {c.variant}" for c in comparisons if c.verdict == "NO"]
    if missed:
        print(f"target missed: {'; '.join(missed)}")
    return 1 if missed and arguments.strict else 0


if __name__ == "__main__":
    sys.exit(main())
