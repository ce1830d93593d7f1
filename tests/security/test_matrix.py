"""The cross-org matrix, generated from the procedure table rather than written by hand.

For every procedure an org's API key may call, org A's key names org B's objects
(its org, its tenant, its API and signing keys, its resources) and must get
exactly the answer a missing object gets; naming B's org also leaves an
``access.denied`` row in B's audit log. A procedure whose input names an
object without saying what kind (``relaypass.api._base.OWNED_FIELDS`` or the
procedure's ``owns``) fails the first test, so a new procedure cannot skip the
question.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic.alias_generators import to_camel

from relaypass.api import PROCEDURES, Procedure
from relaypass.api._base import OWNED_FIELDS
from tests.security.test_tenancy import Platform, make_platform

_ID_LIKE = re.compile(r"^(id|tenant|jti)$|_(id|sid)$")
#: Procedures outside the matrix, and why.
_EXEMPT = {
    "orgs.disable": "the platform operator acts on every org by design",
    # An org's own keys read only its figures (tests/server/test_usage.py); the operator's
    # platform:admin key reads every org's, for billing and capacity.
    "usage.query": "the platform operator reads every org's usage by design",
    "usage.live": "the platform operator reads every org's live sessions by design",
    "orgs.setLimits": "the platform operator sets every org's quotas by design",
    "orgs.limits": "the platform operator reads every org's quotas by design",
}


def _org_scoped() -> list[Procedure[Any, Any]]:
    return [
        p
        for p in PROCEDURES
        if "org_id" in p.input.model_fields and not p.admin_token and p.name not in _EXEMPT
    ]


def test_every_id_like_input_field_is_declared() -> None:
    undeclared = [
        f"{p.name}.{name}"
        for p in PROCEDURES
        for name in p.input.model_fields
        if _ID_LIKE.search(name) and name not in OWNED_FIELDS and name not in p.owns
    ]
    assert undeclared == [], "declare what these fields name (OWNED_FIELDS or owns=)"


@pytest.fixture(scope="module")
def two_orgs(
    tmp_path_factory: pytest.TempPathFactory, redis_server: str
) -> Iterator[tuple[Platform, dict[str, str]]]:
    prefix = f"relaypass-matrix-{secrets.token_hex(4)}"
    platforms = make_platform(Path(tmp_path_factory.mktemp("matrix")), redis_server, prefix)
    p = next(platforms)
    b_keys = p.ok("streams.apiKeys.list", p.key_b, {"orgId": p.org_b})["keys"]
    b_signing = p.ok("streams.signingKeys.list", p.key_b, {"orgId": p.org_b})["keys"]
    body = {"orgId": p.org_b, "kind": "trunk", "resourceId": "TK-B", "tenant": "tenant_b"}
    p.ok("tenants.resources.assign", p.key_b, body)
    victim = {
        "org": p.org_b,
        "tenant": "tenant_b",
        "api_key": b_keys[0]["id"],
        "signing_key": b_signing[0]["id"],
        "resource": "TK-B",
    }
    yield p, victim
    platforms.close()


_MISSING = {
    "org": "org_nowhere",
    "tenant": "tenant_nowhere",
    "api_key": "key_nowhere",
    "signing_key": "sk_nowhere",
    "resource": "TK-NOWHERE",
}


def _body(procedure: Procedure[Any, Any], org: str, objects: dict[str, str]) -> dict[str, Any]:
    """The procedure's example input, naming ``org`` and these objects."""
    body = dict(procedure.examples) | {"orgId": org}
    for field, kind in procedure.owned.items():
        if kind in objects and kind != "org":
            body[to_camel(field)] = objects[kind]
    return body


def _answer(response: Any) -> tuple[int, str, str]:
    problem = response.json()
    return response.status_code, problem.get("code"), problem.get("detail")


@pytest.mark.parametrize("procedure", _org_scoped(), ids=lambda p: p.name)
def test_another_orgs_objects_answer_as_missing_ones(
    two_orgs: tuple[Platform, dict[str, str]], procedure: Procedure[Any, Any]
) -> None:
    p, victim = two_orgs
    own = {"tenant": "tenant_a"}
    before = sum(
        1 for e in p.audit(p.key_b, p.org_b)
        if e["action"] == "access.denied" and e["target"] == procedure.name
    )  # fmt: skip
    # A names B's org (with B's objects): refused exactly as an org that does not exist.
    foreign = p.rpc(procedure.name, p.operator, _body(procedure, victim["org"], victim))
    missing = p.rpc(procedure.name, p.operator, _body(procedure, _MISSING["org"], _MISSING))
    assert foreign.status_code != 200, foreign.text
    assert _answer(foreign) == _answer(missing)
    after = [
        e for e in p.audit(p.key_b, p.org_b)
        if e["action"] == "access.denied" and e["target"] == procedure.name
    ]  # fmt: skip
    assert len(after) == before + 1, "the attempt is in the victim's audit log"
    assert victim["api_key"] not in str(after[0]["detail"])
    # A names its own org but one of B's objects: answered as a missing object of A's.
    kinds = {kind for kind in procedure.owned.values() if kind in victim and kind != "org"}
    for kind in sorted(kinds):
        theirs = _body(procedure, p.org_a, own | {kind: victim[kind]})
        nowhere = _body(procedure, p.org_a, own | {kind: _MISSING[kind]})
        got_theirs = p.rpc(procedure.name, p.operator, theirs)
        got_nowhere = p.rpc(procedure.name, p.operator, nowhere)
        assert _answer(got_theirs) == _answer(got_nowhere), (kind, got_theirs.text)
