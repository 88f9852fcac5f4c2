"""Fixtures of the CLI integration tests: the installed ``jalon`` script, run as a user runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

RunJalon = Callable[..., subprocess.CompletedProcess[str]]
"""``run_jalon(*args, env={...})``: run the console script, return its exit code and outputs."""

_CLEARED = ("JALON_DATABASE_URL", "JALON_WORKFLOWS", "JALON_ORG", "JALON_NOW", "COLUMNS")


@pytest.fixture(scope="session")
def jalon_script() -> Path:
    """The console script installed with the project (``jalon = engine.cli:main``)."""
    beside = Path(sys.executable).parent / "jalon"
    if beside.is_file():
        return beside
    found = shutil.which("jalon")
    if found is None:
        pytest.skip("the jalon console script is not installed (pip install -e .)")
    return Path(found)


@pytest.fixture
def run_jalon(jalon_script: Path, tmp_path: Path) -> RunJalon:
    """Run ``jalon`` in a subprocess from the test's directory, with a clean environment.

    ``JALON_*`` variables of the developer's shell are removed (the actor is set to
    ``alice:acheteur,responsable_achat``); ``env`` adds or overrides variables.
    """

    def run(
        *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        environment = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        environment["JALON_ACTOR"] = "alice:acheteur,responsable_achat"
        environment.update(env or {})
        return subprocess.run(
            [str(jalon_script), *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=environment,
            cwd=tmp_path,
            timeout=timeout,
            check=False,
        )

    return run
