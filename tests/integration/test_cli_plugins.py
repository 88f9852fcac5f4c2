"""Control plugins through the real ``jalon`` command: listed, validated, evaluated, or refused.

The example plugin (``docs/examples/jalon-controle-exemple``) is "installed" for the
subprocess only: its dist-info is written into a temporary folder that ``PYTHONPATH`` puts on
``sys.path``, beside the example's own folder. Nothing is installed in the environment, and
the test process's registry is never touched.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from engine.control_plugins import ENTRY_POINT_GROUP, distribution_name
from tests.unit.test_control_plugins import (
    EXAMPLE,
    EXAMPLE_DIR,
    EXAMPLE_ENTRY_POINTS,
    write_distribution,
)

RunJalon = Callable[..., subprocess.CompletedProcess[str]]

EXAMPLE_INSTALLED = any(
    distribution_name(ep) == EXAMPLE for ep in entry_points(group=ENTRY_POINT_GROUP)
)
"""The example plugin is really installed here (``pip install -e``): its control is known."""

ATTRIBUTION = """\
id: attribution
version: 1
code: ATT
title: Attribution d'un marché
owner: Direction de la commande publique
fields:
  objet: {type: text, label: Objet du marché}
  titulaire_siret: {type: text, label: SIRET du titulaire}
states:
  attribution: {label: Attribution, initial: true, role: acheteur}
  notifie: {label: Marché notifié, final: true}
transitions:
  - trigger: notifier
    source: attribution
    dest: notifie
    label: Notifier le marché
    controls:
      - control: sirets_valides
        params: {fields: [titulaire_siret]}
"""

BROKEN_WARNING = (
    "Greffon de contrôles « casse » (paquet jalon-greffon-casse) : import impossible de "
    "« greffon_casse:CONTROLE » (ModuleNotFoundError : No module named 'greffon_casse') ; ses "
    "contrôles ne sont pas chargés."
)


def _path(*folders: Path) -> dict[str, str]:
    return {"PYTHONPATH": os.pathsep.join(str(folder) for folder in folders)}


@pytest.fixture
def with_example(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``jalon`` that sees the example plugin as installed."""
    site = write_distribution(tmp_path / "site", EXAMPLE, EXAMPLE_ENTRY_POINTS)
    return _path(site, EXAMPLE_DIR)


@pytest.fixture
def with_broken_plugin(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``jalon`` with one plugin whose module does not exist."""
    site = write_distribution(
        tmp_path / "broken", "jalon-greffon-casse", {"casse": "greffon_casse:CONTROLE"}
    )
    return _path(site)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A folder holding a definition that uses the plugin's control."""
    folder = tmp_path / "library"
    folder.mkdir()
    (folder / "attribution.yaml").write_text(ATTRIBUTION, encoding="utf-8")
    return folder


def test_controls_list_shows_the_plugin_control(
    run_jalon: RunJalon, with_example: dict[str, str]
) -> None:
    """``jalon controls list`` shows the plugin control beside the built-in ones."""
    listed = run_jalon("controls", "list", env=with_example)
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    assert "sirets_valides — ISO 9001 § 8.4.1" in listed.stdout
    assert "    - fields (obligatoire) : Les champs qui contiennent un SIRET" in listed.stdout
    assert "required_fields — ISO 9001 § 8.5.1" in listed.stdout
    described = json.loads(run_jalon("controls", "list", "--json", env=with_example).stdout)
    assert "sirets_valides" in [control["name"] for control in described]


def test_a_definition_using_the_plugin_control_validates(
    run_jalon: RunJalon, with_example: dict[str, str], library: Path
) -> None:
    """A definition that uses the plugin's control validates where the plugin is installed."""
    valid = run_jalon("workflows", "validate", str(library), env=with_example)
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout == valid.stderr == ""


@pytest.mark.skipif(EXAMPLE_INSTALLED, reason="the example plugin is installed in this environment")
def test_without_the_plugin_its_control_is_unknown(run_jalon: RunJalon, library: Path) -> None:
    """Where the plugin is not installed, the same definition names an unknown control."""
    without = run_jalon("workflows", "validate", str(library))
    assert without.returncode == 1
    assert "contrôle « sirets_valides » inconnu du catalogue" in without.stderr


def test_the_engine_evaluates_the_plugin_control(
    run_jalon: RunJalon, with_example: dict[str, str], library: Path, tmp_path: Path
) -> None:
    """A wrong SIRET blocks the step with the plugin's reason; a right one lets it pass."""
    env = {
        **with_example,
        "JALON_WORKFLOWS": str(library),
        "JALON_DATABASE_URL": str(tmp_path / "jalon.db"),
        "JALON_NOW": "2026-05-04T09:00:00Z",
    }
    wrong_key = "titulaire_siret=73282932000075"
    opened = run_jalon("case", "open", "attribution", "--org", "AMP", "--set", wrong_key, env=env)
    assert opened.returncode == 0, opened.stderr
    reference = opened.stdout.strip()
    refused = run_jalon("case", "fire", reference, "notifier", env=env)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr
    assert "sirets_valides" in refused.stderr
    assert "la clé de contrôle est fausse" in refused.stderr
    fixed = run_jalon("case", "set", reference, "titulaire_siret=732 829 320 00074", env=env)
    assert fixed.returncode == 0, fixed.stderr
    fired = run_jalon("case", "fire", reference, "notifier", env=env)
    assert fired.returncode == 0, fired.stderr
    shown = json.loads(run_jalon("case", "show", reference, "--json", env=env).stdout)
    assert shown["state"] == "notifie"


def test_a_bad_plugin_is_one_french_warning_never_a_traceback(
    run_jalon: RunJalon, with_broken_plugin: dict[str, str], tmp_path: Path
) -> None:
    """``--help`` and the other commands still run; the plugin is named once on stderr, and a
    definition that needs its control is refused."""
    library = tmp_path / "needs-broken"
    library.mkdir()
    (library / "attribution.yaml").write_text(
        ATTRIBUTION.replace("sirets_valides", "controle_casse"), encoding="utf-8"
    )
    helped = run_jalon("--help", env=with_broken_plugin)
    assert helped.returncode == 0
    assert helped.stderr.strip() == BROKEN_WARNING
    assert "Usage" in helped.stdout
    listed = run_jalon("controls", "list", "--json", env=with_broken_plugin)
    assert listed.returncode == 0
    assert listed.stderr.strip() == BROKEN_WARNING
    assert "required_fields" in [control["name"] for control in json.loads(listed.stdout)]
    validated = run_jalon("workflows", "validate", str(library), env=with_broken_plugin)
    assert validated.returncode == 1
    assert "Traceback" not in validated.stderr
    lines = validated.stderr.splitlines()
    assert lines[0] == BROKEN_WARNING
    assert "contrôle « controle_casse » inconnu du catalogue" in validated.stderr
