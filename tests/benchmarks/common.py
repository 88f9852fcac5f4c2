"""Shared pieces of the benchmarks: sizes, interleaved rounds, comparisons, tables, the machine."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does (``--quick`` shrinks everything)."""

    transitions: int = 5_000
    """Transitions fired per variant on SQLite, in slices of ``slice``."""
    cases: int = 100
    """Cases the transitions are spread over, round-robin (split between PostgreSQL workers)."""
    pg_transitions: int = 5_000
    """Transitions fired per variant and concurrency on PostgreSQL (all workers together)."""
    pg_workers: tuple[int, ...] = (1, 4)
    """Concurrency levels on PostgreSQL: one process per worker."""
    verify_entries: int = 1_000_000
    """Audit entries in the SQLite trail that ``verify`` reads."""
    chain_length: int = 50
    """Entries per case chain in the generated trails."""
    pg_verify_entries: int = 200_000
    """Audit entries in the PostgreSQL trail that ``verify_postgres`` reads."""
    slice: int = 250
    """Transitions per slice: the variants take turns slice by slice (see ``interleave``)."""
    rounds: int = 3
    """Interleaved full passes of each verification variant."""
    workdir: Path | None = None
    """Where the database files go (default: a fresh temporary directory)."""
    profile: bool = False
    """Break the time down step by step (SQLite transitions, both verifications)."""
    sqlmodel: bool = True
    """Also measure the informative SQLModel-session variant on SQLite."""


QUICK = Sizes(
    transitions=500,
    cases=20,
    pg_transitions=500,
    verify_entries=100_000,
    pg_verify_entries=20_000,
    slice=100,
    rounds=1,
)
"""A smoke run: every code path, a few seconds per benchmark, figures not meaningful."""


def with_overrides(base: Sizes, **overrides: object) -> Sizes:
    """``base`` with the given fields replaced (None values are ignored)."""
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Sample:
    """One timed slice: how many operations, in how many wall and CPU seconds."""

    operations: int
    seconds: float
    cpu_seconds: float = 0.0
    """CPU time of the client process(es) doing the work (not the database server's)."""

    @property
    def rate(self) -> float:
        """Operations per second (wall clock)."""
        return self.operations / self.seconds


@dataclass(slots=True)
class Series:
    """The slices of one variant, in the order they ran."""

    name: str
    samples: list[Sample] = field(default_factory=list)

    @property
    def operations(self) -> int:
        """Operations over every slice."""
        return sum(sample.operations for sample in self.samples)

    @property
    def rate(self) -> float:
        """Aggregate rate: every operation over the total wall time."""
        return self.operations / sum(sample.seconds for sample in self.samples)

    @property
    def cpu_ms(self) -> float:
        """Client CPU milliseconds per operation."""
        return 1000 * sum(sample.cpu_seconds for sample in self.samples) / self.operations

    @property
    def spread(self) -> str:
        """``min–max`` of the slices' rates."""
        rates = [sample.rate for sample in self.samples]
        if len(rates) == 1:
            return fmt(rates[0])
        return f"{fmt(min(rates))}–{fmt(max(rates))}"


def interleave(
    slices: int, variants: Mapping[str, Callable[[], Sample]], *, label: str = "slice"
) -> dict[str, Series]:
    """Run every variant ``slices`` times, rotating the order each time; return their series.

    The variants take turns in short slices so that each one meets the same conditions: on a
    virtual disk whose fsync latency drifts by a factor of ten within a minute, a variant run
    as one block would be compared with a baseline measured on another disk, in effect.
    """
    names = list(variants)
    series = {name: Series(name) for name in names}
    for number in range(slices):
        offset = number % len(names)
        for name in names[offset:] + names[:offset]:
            series[name].samples.append(variants[name]())
        rates = "  ".join(f"{fmt(series[name].samples[-1].rate):>7}" for name in names)
        print(f"    {label} {number + 1:>3}/{slices}  {rates}", flush=True)
    return series


def paired_ratios(ours: Series, baseline: Series) -> list[float]:
    """Per slice, our rate over the baseline's rate measured next to it."""
    return [o.rate / b.rate for o, b in zip(ours.samples, baseline.samples, strict=True)]


@dataclass(frozen=True, slots=True)
class Comparison:
    """Our figure next to the baseline measured in the same run, and the target ratio."""

    benchmark: str
    variant: str
    unit: str
    ours: Series
    baseline: Series
    target: float | None
    """The minimum ``ours / baseline`` asked for; None for an informative line."""

    @property
    def ratio(self) -> float:
        """The median over the slices of ours / baseline (each pair measured side by side)."""
        return statistics.median(paired_ratios(self.ours, self.baseline))

    @property
    def ratio_quartiles(self) -> tuple[float, float]:
        """First and third quartiles of the paired ratios (the ratio itself when one slice)."""
        ratios = paired_ratios(self.ours, self.baseline)
        if len(ratios) < 2:
            return ratios[0], ratios[0]
        quartiles = statistics.quantiles(ratios, n=4)
        return quartiles[0], quartiles[2]

    @property
    def aggregate_ratio(self) -> float:
        """Our aggregate rate over the baseline's."""
        return self.ours.rate / self.baseline.rate

    @property
    def verdict(self) -> str:
        """``yes``/``NO`` against the target, or ``(info)``."""
        if self.target is None:
            return "(info)"
        return "yes" if self.ratio >= self.target else "NO"

    def row(self) -> list[str]:
        """The comparison as a table row."""
        low, high = self.ratio_quartiles
        return [
            self.variant,
            f"{fmt(self.ours.rate)} ({self.ours.spread})",
            self.baseline.name,
            f"{fmt(self.baseline.rate)} ({self.baseline.spread})",
            f"{self.ratio:.0%} ({low:.0%}–{high:.0%})",
            f"{self.aggregate_ratio:.0%}",
            "—" if self.target is None else f"≥ {self.target:.0%}",
            self.verdict,
        ]


COMPARISON_HEADERS = [
    "variant",
    "ours /s (slices min–max)",
    "baseline",
    "baseline /s (slices min–max)",
    "ratio: median of pairs (IQR)",
    "ratio of totals",
    "target",
    "met",
]


def fmt(value: float) -> str:
    """A rate with a thin space between thousands (``4 123``)."""
    return f"{value:,.0f}".replace(",", "\u202f")


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print a Markdown table (aligned, so it reads in a terminal and pastes into docs)."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(f"\n{title}\n")
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
    print(flush=True)


def print_comparisons(title: str, comparisons: Sequence[Comparison]) -> None:
    """Print the comparisons of one benchmark as a table."""
    unit = comparisons[0].unit if comparisons else ""
    print_table(f"{title} ({unit})", COMPARISON_HEADERS, [c.row() for c in comparisons])


class Stopwatch:
    """``with Stopwatch() as watch: ...`` then ``watch.seconds`` (wall) and ``watch.cpu``."""

    def __init__(self) -> None:
        self.started = 0.0
        self.cpu_started = 0.0
        self.seconds = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Stopwatch:
        self.cpu_started = time.process_time()
        self.started = time.perf_counter()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_started

    def sample(self, operations: int) -> Sample:
        """The measured slice as a ``Sample``."""
        return Sample(operations, self.seconds, self.cpu)


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        return ""


def _memory() -> str:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _disk(path: Path) -> str:
    """File system and block device under ``path`` (as ``findmnt`` and ``/sys/block`` say)."""
    try:
        found = subprocess.run(
            ["findmnt", "-n", "-o", "SOURCE,FSTYPE", "--target", str(path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=10,
        ).stdout.split()
    except OSError:
        return "unknown"
    if len(found) < 2:
        return "unknown"
    source, fstype = found[0], found[1]
    device = Path(source).name
    rotational = _read(f"/sys/block/{device}/queue/rotational").strip()
    kind = {"0": "non-rotational", "1": "reported rotational"}.get(rotational, "type unknown")
    if device.startswith("vd"):
        kind += ", virtio virtual disk"
    return f"{fstype} on {source} ({kind})"


def postgres_version() -> str:
    """``postgres --version`` of the binaries ``pgserver`` would start, or why not."""
    from tests.pgserver import PostgresUnavailable, find_bindir  # noqa: PLC0415

    try:
        bindir = find_bindir()
    except PostgresUnavailable as missing:
        return f"unavailable ({missing.reason})"
    completed = subprocess.run(
        [str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=False
    )
    return completed.stdout.strip() or "unknown"


def machine(workdir: Path) -> dict[str, str]:
    """What the figures were measured on."""
    return {
        "CPU": f"{_cpu_model()}, nproc {len(os.sched_getaffinity(0))}",
        "memory": _memory(),
        "disk": _disk(workdir),
        "OS": platform.platform(),
        "Python": sys.version.split()[0],
        "SQLite": sqlite3.sqlite_version,
        "PostgreSQL": postgres_version(),
        "load average at start": " ".join(f"{load:.2f}" for load in os.getloadavg()),
    }
