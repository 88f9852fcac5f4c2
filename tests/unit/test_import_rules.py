"""The import rules of docs/architecture.md, checked on the sources of the three packages.

Every module is parsed (``ast``, nothing is imported) and each ``import``/``from … import``
statement — at any depth, including ``TYPE_CHECKING`` blocks and function bodies — and each
``importlib.import_module("…")`` with a literal name is checked against the rules. The
allow-lists below are the documented exceptions; each one is named in docs/architecture.md.
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("engine", "storage", "workflows")
ARCHITECTURE_DOC = ROOT / "docs" / "architecture.md"

INTERFACES = ("engine/cli*.py", "engine/demo*.py")
"""The command line (and its demo): the outer shell, which may wire anything together."""

ENGINE_MAY_IMPORT_STORAGE = (
    "engine/service.py",  # the unit of work: reads, decides, writes, audits
    "engine/registry.py",  # reads registered definition sources inside the caller's transaction
    "engine/views.py",  # views carry the stored rows (CaseRow, DocumentRow) to the interfaces
    "engine/facts.py",  # the service's audit entries: case chain, journal, recorded refusals
    "engine/case_records.py",  # the service's fact commands (documents, declarations, ticks)
    "engine/command_frame.py",  # the service's command frame: refusals recorded on the store
    "engine/sealing.py",  # the service's checkpoint policy, reading since when facts are unsealed
    "engine/nonconformity.py",  # opens a non-conformity's case and index row in the step's tx
    "engine/nc_commands.py",  # the service's register commands (open by hand, list, similar)
    "engine/snapshots.py",  # builds a case's snapshot from the stored rows, history cached
    "engine/steps.py",  # the service's step: decide, raise, move the clocks, record
    "engine/clocks.py",  # the clock rules, over the stored clock row (ClockRow)
    "engine/clock_effects.py",  # a step's effects on the case's clocks, in its transaction
    "engine/clock_commands.py",  # the service's clock commands and the scheduler's sweep
    "engine/engine_parts.py",  # the protocol of the Engine's parts its command mixins use
    *INTERFACES,
)
"""Engine modules allowed to import storage beyond ``storage.canonical`` (decision 0005)."""

ENGINE_MAY_IMPORT_WORKFLOWS = (
    "engine/service.py",
    "engine/nonconformity.py",
    "engine/steps.py",  # names the service's Catalogue type in its protocol
    "engine/engine_parts.py",  # the same, in the protocol all the mixins share
    *INTERFACES,
)
"""Engine modules that know where the procedure library lives."""

ONE_PLACE_LIBRARIES: dict[str, tuple[str, ...]] = {
    "transitions": ("engine/machine.py",),
    "apscheduler": ("engine/scheduler.py",),
    "yaml": ("engine/loader.py",),
    "pydantic": (
        "engine/definition.py",
        "engine/definition_messages.py",
        "engine/loader.py",
        "engine/controls.py",
        "engine/controls_*.py",  # each module of built-in controls has its parameter models
        "engine/control_catalogue.py",
    ),
    "structlog": ("engine/log.py", "engine/service.py"),
    "holidays": ("engine/legal_calendar.py",),
    "celpy": (
        "engine/rules.py",
        "engine/rules_compiled.py",
        "engine/rules_closures.py",
        "engine/rules_reading.py",
    ),
    "typer": INTERFACES,
    "rich": INTERFACES,
    "sqlalchemy": ("storage/*",),
    "sqlmodel": ("storage/*",),
    "alembic": ("storage/*",),
    "psycopg": ("storage/*",),
    "psycopg2": ("storage/*",),
}
"""Third-party libraries that live in one place (principle 4): library -> modules allowed."""

WALL_TIME_CALLS = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}
"""Calls that read the wall clock; only engine/clock.py may make them (time is injected)."""


@dataclass(frozen=True, slots=True)
class Import:
    """One imported name: which module imports it, where, and the dotted target."""

    module: str
    line: int
    target: str

    @property
    def top(self) -> str:
        """The top-level package of the target (``sqlalchemy`` for ``sqlalchemy.engine``)."""
        return self.target.split(".")[0]

    def __str__(self) -> str:
        return f"{self.module}:{self.line} imports {self.target}"


def _sources() -> list[Path]:
    return sorted(path for package in PACKAGES for path in (ROOT / package).rglob("*.py"))


def _relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _package_of(module: str) -> list[str]:
    parts = module.removesuffix(".py").split("/")
    return parts if parts[-1] == "__init__" else parts[:-1]


def _is_own_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split("."))
    return dotted.split(".", maxsplit=1)[0] in PACKAGES and (
        path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()
    )


def _targets(node: ast.AST, module: str) -> Iterable[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = _package_of(module)
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        for alias in node.names:
            # ``from storage import store`` imports the module storage.store
            submodule = f"{base}.{alias.name}"
            yield submodule if _is_own_module(submodule) else base
    elif (
        isinstance(node, ast.Call)
        and getattr(node.func, "attr", getattr(node.func, "id", None))
        in {"import_module", "__import__"}
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        yield node.args[0].value


@cache
def _trees() -> dict[str, ast.Module]:
    return {_relative(path): ast.parse(path.read_text(encoding="utf-8")) for path in _sources()}


@cache
def all_imports() -> tuple[Import, ...]:
    """Every import of every module of the three packages."""
    found = []
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            for target in _targets(node, module):
                found.append(Import(module, getattr(node, "lineno", 0), target))
    return tuple(found)


def matches(module: str, patterns: Iterable[str]) -> bool:
    """True when ``module`` (``engine/cli.py``) matches one of the glob ``patterns``."""
    return any(fnmatch.fnmatch(module, pattern) for pattern in patterns)


def report(violations: Iterable[object]) -> str:
    return "\n".join(str(violation) for violation in violations)


def test_the_walker_sees_every_package_and_their_imports() -> None:
    """The rules below are not vacuous: the sources and their imports are really read."""
    modules = set(_trees())
    assert {"engine/machine.py", "engine/service.py", "storage/audit.py"} <= modules
    assert {"workflows/catalogue.py", "storage/migrations/env.py"} <= modules
    targets = {(i.module, i.target) for i in all_imports()}
    assert ("engine/machine.py", "transitions") in targets
    assert ("engine/definition.py", "storage.canonical") in targets
    assert ("storage/tables.py", "sqlmodel") in targets


def test_storage_never_imports_engine_or_workflows() -> None:
    """storage/ is the lower layer: it knows nothing of the engine or of the library."""
    violations = [
        i
        for i in all_imports()
        if i.module.startswith("storage/") and i.top in {"engine", "workflows"}
    ]
    assert not violations, report(violations)


def test_engine_core_imports_storage_only_for_canonical_json() -> None:
    """Outside service, registry, views and the CLI, engine/ imports only storage.canonical."""
    violations = [
        i
        for i in all_imports()
        if i.module.startswith("engine/")
        and i.top == "storage"
        and i.target != "storage.canonical"
        and not matches(i.module, ENGINE_MAY_IMPORT_STORAGE)
    ]
    assert not violations, report(violations)


def test_workflows_never_imports_storage() -> None:
    """The procedure library reads YAML through the engine's loader, never the database."""
    violations = [
        i for i in all_imports() if i.module.startswith("workflows/") and i.top == "storage"
    ]
    assert not violations, report(violations)


def test_only_the_service_and_the_interfaces_know_the_procedure_library() -> None:
    """The engine core is given definitions; only the service and the CLI open the library."""
    violations = [
        i
        for i in all_imports()
        if i.module.startswith("engine/")
        and i.top == "workflows"
        and not matches(i.module, ENGINE_MAY_IMPORT_WORKFLOWS)
    ]
    assert not violations, report(violations)


def test_the_service_and_the_cli_are_imported_only_by_the_interfaces() -> None:
    """The core never reaches up into the shell (engine.service) or the command line."""
    violations = [
        i
        for i in all_imports()
        if (i.target == "engine.service" or i.target.startswith(("engine.cli", "engine.demo")))
        and not matches(i.module, INTERFACES)
    ]
    assert not violations, report(violations)


@pytest.mark.parametrize("library", sorted(ONE_PLACE_LIBRARIES))
def test_each_third_party_library_lives_in_one_place(library: str) -> None:
    """transitions in machine.py, SQLAlchemy/SQLModel/Alembic in storage/, and so on."""
    allowed = ONE_PLACE_LIBRARIES[library]
    violations = [i for i in all_imports() if i.top == library and not matches(i.module, allowed)]
    assert not violations, report(violations)


def test_only_engine_log_configures_structlog() -> None:
    """engine/service.py binds log context; configuring structlog happens in engine/log.py only."""
    violations = []
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"configure", "configure_once", "reset_defaults"}
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "structlog"
                and module != "engine/log.py"
            ):
                violations.append(f"{module}:{node.lineno} calls structlog.{node.func.attr}")
    assert not violations, report(violations)


def test_only_engine_clock_reads_wall_time() -> None:
    """Time is injected: datetime.now(), date.today(), time.time()... only in engine/clock.py."""
    violations = []
    for module, tree in _trees().items():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (name, node.func.attr) in WALL_TIME_CALLS and module != "engine/clock.py":
                violations.append(f"{module}:{node.lineno} calls {name}.{node.func.attr}()")
    assert not violations, report(violations)


def test_every_exception_of_these_rules_is_documented() -> None:
    """Each module of an allow-list above is named in docs/architecture.md."""
    text = ARCHITECTURE_DOC.read_text(encoding="utf-8")
    allowed = {
        *ENGINE_MAY_IMPORT_STORAGE,
        *ENGINE_MAY_IMPORT_WORKFLOWS,
        *(module for modules in ONE_PLACE_LIBRARIES.values() for module in modules),
    }
    missing = sorted(module for module in allowed if f"`{module}`" not in text)
    assert not missing, f"not named in {ARCHITECTURE_DOC.name}: {', '.join(missing)}"
