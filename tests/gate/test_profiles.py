"""The gate asks its profile object, never a profile name: one registry of token kinds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from relaypass import Key, KeySet
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.profiles import PROFILES, GateProfile, RelayProfile, profile_named
from relaypass.profiles.algorithms import PROFILE_ALGORITHMS

GATE = Path(__file__).resolve().parents[2] / "src" / "relaypass" / "gate"


def test_no_module_of_the_gate_compares_profile_names() -> None:
    found = [
        f"{path.name}:{n}"
        for path in GATE.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if re.search(r"profile\s*[!=]=", line)
    ]
    assert found == []


def test_every_profile_is_registered_once_and_signs_with_the_algorithm_table() -> None:
    assert set(PROFILES) == set(PROFILE_ALGORITHMS)
    for name, profile in PROFILES.items():
        assert profile.name == name
        assert profile_named(name) is profile
        assert isinstance(profile, GateProfile)


def test_a_gate_holds_its_profile_object_and_refuses_an_unknown_name() -> None:
    source = StaticKeySource(KeySet([Key.generate("EdDSA").public()]))
    assert isinstance(Gate(source).kind, RelayProfile)
    assert Gate(source, profile=PROFILES["moq"]).profile == "moq"
    with pytest.raises(ValueError, match="profile must be one of"):
        Gate(source, profile="relays")
