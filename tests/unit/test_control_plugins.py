"""Control plugins: ``jalon.controls`` entry points found, checked and registered.

Plugins are made discoverable the real way, without installing anything: a
``NAME-0.1.dist-info`` folder (``METADATA`` and ``entry_points.txt``) written into a
temporary folder put on ``sys.path``, which ``importlib.metadata`` reads like any installed
package. Each test runs on a copy of the control registry (``isolated_registry``), so that no
plugin control stays registered for the other tests.
"""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from typing import Any

import pytest

import engine.control_catalogue  # noqa: F401  (registers the built-in controls)
from engine import control_plugins, controls
from engine.actors import Actor
from engine.control_plugins import (
    ENTRY_POINT_GROUP,
    PluginError,
    distribution_name,
    load_plugins,
    register_plugins,
)
from engine.controls import CaseSnapshot, ControlResult, catalogue, evaluate
from engine.definition import ControlRef
from engine.errors import DefinitionInvalid, EngineError
from engine.loader import load_definition_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_DIR = ROOT / "docs" / "examples" / "jalon-controle-exemple"
"""The example plugin package: its module sits at the root of the folder."""

EXAMPLE = "jalon-controle-exemple"
EXAMPLE_ENTRY_POINTS = {"sirets_valides": "jalon_controle_exemple:SIRETS_VALIDES"}


def write_distribution(
    folder: Path,
    name: str,
    entry_points: Mapping[str, str],
    modules: Mapping[str, str] | None = None,
) -> Path:
    """Make ``folder`` hold an "installed" distribution ``name`` with ``jalon.controls`` entry
    points (and the source of ``modules``), as pip would leave it; return ``folder``."""
    dist_info = folder / f"{name.replace('-', '_')}-0.1.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n", encoding="utf-8"
    )
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{ep} = {value}" for ep, value in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for module, source in (modules or {}).items():
        (folder / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The built-in controls only (without the plugins of this environment, if any), a fresh
    loading state, all restored after the test; the plugin modules a test imported are
    forgotten."""
    built_in = {
        name: spec
        for name, spec in controls._REGISTRY.items()
        if name not in control_plugins._ORIGINS
    }
    monkeypatch.setattr(controls, "_REGISTRY", built_in)
    monkeypatch.setattr(control_plugins, "_ORIGINS", {})
    monkeypatch.setattr(control_plugins, "_STATE", control_plugins._Loaded())
    monkeypatch.delitem(sys.modules, "jalon_controle_exemple", raising=False)
    modules_before = set(sys.modules)
    yield
    for module in set(sys.modules) - modules_before:
        if module.startswith(("jalon_controle_exemple", "greffon_")):
            del sys.modules[module]


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder on ``sys.path`` where tests "install" distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.fixture
def example(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The example plugin "installed": its dist-info in ``site``, its module importable."""
    monkeypatch.syspath_prepend(str(EXAMPLE_DIR))
    return write_distribution(site, EXAMPLE, EXAMPLE_ENTRY_POINTS)


def found(*names: str) -> list[EntryPoint]:
    """The ``jalon.controls`` entry points of the distributions ``names`` (in that order)."""
    every = entry_points(group=ENTRY_POINT_GROUP)
    return [ep for name in names for ep in every if distribution_name(ep) == name]


def snapshot(data: Mapping[str, Any]) -> CaseSnapshot:
    """A case with ``data``, as a control sees it."""
    return CaseSnapshot(
        "AMP-2026-ACH-0001",
        "attribution",
        data,
        Actor("marie", frozenset({"acheteur"})),
        datetime(2026, 5, 4, 9, 30, tzinfo=UTC),
        list,
    )


def run(params: Mapping[str, Any], data: Mapping[str, Any]) -> ControlResult:
    """Evaluate ``sirets_valides`` with ``params`` on a case holding ``data``."""
    ref = ControlRef(control="sirets_valides", params=dict(params))
    (result,) = evaluate([ref], snapshot(data))
    return result


# ------------------------------------------------------------------------ the example


def test_the_example_plugin_is_found_and_registered(example: Path) -> None:
    """The entry point of the example package is read from its dist-info and registered."""
    (entry_point,) = found(EXAMPLE)
    assert entry_point.name == "sirets_valides"
    registered = register_plugins([entry_point])
    assert [spec.name for spec in registered] == ["sirets_valides"]
    spec = catalogue()["sirets_valides"]
    assert spec is registered[0]
    assert spec.clause == "8.4.1"
    assert [name for name, _, _ in spec.describe_params()] == ["fields", "required"]


def test_the_example_control_passes_on_valid_sirets(example: Path) -> None:
    """Valid SIRETs pass, written with spaces or not, alone or in a list; La Poste's too."""
    register_plugins(found(EXAMPLE))
    result = run(
        {"fields": ["titulaire_siret", "cotraitants_siret"]},
        {
            "titulaire_siret": "732 829 320 00074",
            "cotraitants_siret": ["55210055400013", "35600000012346"],
        },
    )
    assert result.passed
    assert result.clause == "8.4.1"
    assert result.reason == (
        "SIRET valide(s) : titulaire_siret, cotraitants_siret[1], cotraitants_siret[2]"
    )


def test_the_example_control_fails_with_a_french_reason(example: Path) -> None:
    """A wrong key, a wrong length and a missing field are each named in the reason."""
    register_plugins(found(EXAMPLE))
    result = run(
        {"fields": ["titulaire_siret", "sous_traitant_siret", "mandataire_siret"]},
        {"titulaire_siret": "73282932000075", "sous_traitant_siret": "1234"},
    )
    assert not result.passed
    assert result.blocks
    assert result.reason == (
        "SIRET invalide — titulaire_siret : 732 829 320 00075 : la clé de contrôle est fausse "
        "(faute de frappe dans le NIC ?) ; SIRET invalide — sous_traitant_siret : « 1234 » "
        "n'est pas un SIRET : 14 chiffres attendus ; champ(s) non renseigné(s) : "
        "mandataire_siret"
    )
    siren = run({"fields": ["titulaire_siret"]}, {"titulaire_siret": "12345678900012"})
    assert "la clé du SIREN 123456789 est fausse" in siren.reason


def test_an_optional_field_not_set_passes(example: Path) -> None:
    """With ``required: false`` a field not set yet is not a finding."""
    register_plugins(found(EXAMPLE))
    result = run({"fields": ["sous_traitant_siret"], "required": False}, {})
    assert result.passed
    assert result.reason == "aucun SIRET à vérifier (sous_traitant_siret non renseigné(s))"


def test_a_definition_naming_the_plugin_control_is_checked_at_load(example: Path) -> None:
    """Definitions use a plugin control like a built-in one; bad params are found at their line."""
    register_plugins(found(EXAMPLE))
    text = textwrap.dedent("""\
        id: achat
        version: 1
        code: ACH
        title: Achat
        owner: Direction de la commande publique
        fields:
          titulaire_siret: {type: text, label: SIRET du titulaire}
        states:
          attribution: {label: Attribution, initial: true}
          notifie: {label: Notifié, final: true}
        transitions:
          - trigger: notifier
            source: attribution
            dest: notifie
            label: Notifier
            controls:
              - control: sirets_valides
                params: {fields: [titulaire_siret]}
        """)
    definition = load_definition_text(text, "achat.yaml", known_controls=catalogue())
    assert definition.transitions[0].controls[0].control == "sirets_valides"
    with pytest.raises(DefinitionInvalid) as raised:
        load_definition_text(
            text.replace("{fields: [titulaire_siret]}", "{champs: [titulaire_siret]}"),
            "achat.yaml",
            known_controls=catalogue(),
        )
    assert "achat.yaml:18:" in raised.value.message
    assert "contrôle « sirets_valides » : paramètre inconnu « champs »" in raised.value.message


# ------------------------------------------------------------------------ bad plugins


def test_a_plugin_that_fails_to_import_is_one_french_sentence(site: Path) -> None:
    """An import error names the entry point and the package, in one sentence."""
    write_distribution(site, "jalon-greffon-absent", {"absent": "greffon_absent:CONTROLE"})
    with pytest.raises(PluginError) as raised:
        register_plugins(found("jalon-greffon-absent"))
    error = raised.value
    assert isinstance(error, EngineError)
    assert error.code == "greffon_invalide"
    assert error.message == (
        "Greffon de contrôles « absent » (paquet jalon-greffon-absent) : import impossible de "
        "« greffon_absent:CONTROLE » (ModuleNotFoundError : No module named 'greffon_absent')"
    )
    assert "absent" not in catalogue()


def test_a_plugin_whose_code_raises_is_reported_not_raised(site: Path) -> None:
    """Whatever the plugin's module raises on import becomes the plugin's refusal."""
    write_distribution(
        site,
        "jalon-greffon-bogue",
        {"bogue": "greffon_bogue:CONTROLE"},
        {"greffon_bogue": "raise RuntimeError('configuration absente')\n"},
    )
    with pytest.raises(PluginError, match=r"\(RuntimeError : configuration absente\)$"):
        register_plugins(found("jalon-greffon-bogue"))


SPEC_SOURCE = """\
    from engine.controls import ControlSpec, NoParams, Params


    class LooseParams:
        pass


    def passe(params, snapshot):
        return True, "ok"


    def spec(name, params=NoParams):
        return ControlSpec(name=name, clause=None, summary="Essai.", check=passe, params=params)


    MODULE_LEVEL = "texte"
    EMPTY = ()
    MIXED = (spec("greffon_bon"), "pas un contrôle")
    BAD_NAME = spec("GreffonMajuscules")
    LOOSE = spec("greffon_lache", params=LooseParams)
    TWICE = (spec("greffon_double"), spec("greffon_double"))
    HALF_GOOD = (spec("greffon_moitie"), spec("Greffon Moitie"))
    """


@pytest.mark.parametrize(
    ("target", "detail"),
    [
        (
            "greffon_types",
            "« greffon_types » désigne un module, pas un ControlSpec ou une liste de "
            "ControlSpec (écrivez « module:OBJET »)",
        ),
        (
            "greffon_types:MODULE_LEVEL",
            "« greffon_types:MODULE_LEVEL » n'est pas un ControlSpec ou une liste de "
            "ControlSpec (objet de type str)",
        ),
        ("greffon_types:EMPTY", "« greffon_types:EMPTY » ne contient aucun contrôle"),
        (
            "greffon_types:MIXED",
            "l'élément n° 2 de « greffon_types:MIXED » n'est pas un ControlSpec "
            "(objet de type str)",
        ),
        (
            "greffon_types:BAD_NAME",
            "nom de contrôle « GreffonMajuscules » invalide : minuscules, chiffres et _ "
            "(ex. sirets_valides)",
        ),
        (
            "greffon_types:LOOSE",
            "les paramètres du contrôle « greffon_lache » doivent être un modèle qui hérite de "
            "engine.controls.Params",
        ),
        ("greffon_types:TWICE", "le contrôle « greffon_double » est déclaré deux fois"),
    ],
    ids=["module", "text", "empty", "mixed", "bad-name", "loose-params", "twice"],
)
def test_an_entry_point_must_name_control_specs(site: Path, target: str, detail: str) -> None:
    """A ControlSpec or a non-empty list of valid ones: anything else is refused, and why."""
    write_distribution(
        site, "jalon-greffon-types", {"essai": target}, {"greffon_types": SPEC_SOURCE}
    )
    before = catalogue()
    with pytest.raises(PluginError) as raised:
        register_plugins(found("jalon-greffon-types"))
    assert raised.value.message == (
        f"Greffon de contrôles « essai » (paquet jalon-greffon-types) : {detail}"
    )
    assert catalogue() == before


def test_a_plugin_is_all_or_nothing(site: Path) -> None:
    """One bad control in an entry point's list keeps all of its controls out."""
    write_distribution(
        site,
        "jalon-greffon-types",
        {"moitie": "greffon_types:HALF_GOOD"},
        {"greffon_types": SPEC_SOURCE},
    )
    with pytest.raises(PluginError, match="« Greffon Moitie » invalide"):
        register_plugins(found("jalon-greffon-types"))
    assert "greffon_moitie" not in catalogue()


def test_a_clash_with_a_built_in_control_is_refused(site: Path) -> None:
    """A plugin cannot replace a built-in control: the built-in stays."""
    built_in = catalogue()["required_fields"]
    write_distribution(
        site,
        "jalon-greffon-rival",
        {"rival": "greffon_rival:RIVAL"},
        {
            "greffon_rival": """\
            from engine.controls import ControlSpec

            RIVAL = ControlSpec(
                name="required_fields", clause=None, summary="Rival.", check=lambda p, s: (True, "")
            )
            """
        },
    )
    with pytest.raises(PluginError) as raised:
        register_plugins(found("jalon-greffon-rival"))
    assert raised.value.message == (
        "Greffon de contrôles « rival » (paquet jalon-greffon-rival) : le contrôle "
        "« required_fields » existe déjà (contrôle intégré) : choisissez un autre nom"
    )
    assert catalogue()["required_fields"] is built_in


def test_a_clash_between_two_plugins_names_the_first(site: Path, example: Path) -> None:
    """Plugins load in the order of their packages' names; the second of a clash is refused."""
    write_distribution(
        site,
        "jalon-zz-copie",
        {"copie": "greffon_copie:COPIE"},
        {
            "greffon_copie": """\
            import dataclasses

            from jalon_controle_exemple import SIRETS_VALIDES

            COPIE = dataclasses.replace(SIRETS_VALIDES, summary="Une copie.")
            """
        },
    )
    with pytest.raises(PluginError) as raised:
        register_plugins(found("jalon-zz-copie", EXAMPLE))
    assert raised.value.message == (
        "Greffon de contrôles « copie » (paquet jalon-zz-copie) : le contrôle "
        "« sirets_valides » existe déjà (greffon « sirets_valides » du paquet "
        "jalon-controle-exemple) : choisissez un autre nom"
    )
    assert catalogue()["sirets_valides"].summary != "Une copie."


def test_a_bad_plugin_does_not_keep_the_good_ones_out(site: Path, example: Path) -> None:
    """The good plugins are registered, then one error lists each bad one on its own line."""
    write_distribution(site, "jalon-greffon-absent", {"absent": "greffon_absent:X"})
    write_distribution(site, "jalon-greffon-absent2", {"absent2": "greffon_absent2:X"})
    with pytest.raises(PluginError) as raised:
        register_plugins(found(EXAMPLE, "jalon-greffon-absent", "jalon-greffon-absent2"))
    lines = raised.value.message.splitlines()
    assert [failure.entry_point for failure in raised.value.failures] == ["absent", "absent2"]
    assert len(lines) == 2
    assert all(line.startswith("Greffon de contrôles « absent") for line in lines)
    assert "sirets_valides" in catalogue()


def test_controls_registered_behind_the_loader_s_back_are_refused(site: Path) -> None:
    """A module that registers controls itself, not named by its entry point, is rolled back."""
    write_distribution(
        site,
        "jalon-greffon-cache",
        {"cache": "greffon_cache:VISIBLE"},
        {
            "greffon_cache": """\
            from engine.controls import ControlSpec, register


            def passe(params, snapshot):
                return True, "ok"


            register(ControlSpec(name="greffon_cache", clause=None, summary="C.", check=passe))
            VISIBLE = ControlSpec(name="greffon_visible", clause=None, summary="V.", check=passe)
            """
        },
    )
    with pytest.raises(PluginError, match=r"ne désigne pas \(greffon_cache\)"):
        register_plugins(found("jalon-greffon-cache"))
    assert "greffon_cache" not in catalogue()
    assert "greffon_visible" not in catalogue()


# ----------------------------------------------------------------- once per process


def test_load_plugins_runs_once_per_process(site: Path, example: Path) -> None:
    """The first call loads the installed plugins; later calls return the same controls."""
    first = load_plugins()
    assert "sirets_valides" in {spec.name for spec in first}
    write_distribution(site, "jalon-greffon-tardif", {"tardif": "greffon_tardif:X"})
    assert load_plugins() is first
    assert load_plugins(strict=False) is first


def test_a_bad_plugin_is_a_warning_once_when_not_strict(
    site: Path, example: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """At import the catalogue warns once and goes on; a strict call raises the same error."""
    write_distribution(site, "jalon-greffon-absent", {"absent": "greffon_absent:X"})
    with caplog.at_level(logging.WARNING, logger="jalon.plugins"):
        loaded = load_plugins(strict=False)
        load_plugins(strict=False)
    assert "sirets_valides" in [spec.name for spec in loaded]
    assert [record.getMessage() for record in caplog.records] == [
        "Greffon de contrôles « absent » (paquet jalon-greffon-absent) : import impossible de "
        "« greffon_absent:X » (ModuleNotFoundError : No module named 'greffon_absent') ; ses "
        "contrôles ne sont pas chargés."
    ]
    with pytest.raises(PluginError) as first:
        load_plugins()
    with pytest.raises(PluginError) as second:
        load_plugins()
    assert first.value is second.value
