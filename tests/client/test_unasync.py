"""The blocking SDK is made from the asyncio one: the file on disk is what the source renders."""

from __future__ import annotations

import inspect

from relaypass import client
from relaypass.client import _unasync


def test_the_blocking_sdk_is_what_the_asyncio_source_renders() -> None:
    rendered = _unasync.render(_unasync.SOURCE.read_text())
    assert _unasync.TARGET.read_text() == rendered, (
        "src/relaypass/client/_sync.py is stale: run python src/relaypass/client/_unasync.py"
    )


def test_every_rule_is_used_and_nothing_asynchronous_is_left() -> None:
    import re

    source = _unasync.SOURCE.read_text()
    unused = [p for p, _ in _unasync.RULES if not re.search(p, source, flags=re.MULTILINE)]
    assert unused == []
    blocking = _unasync.TARGET.read_text()
    for word in ("async ", "await ", "asyncio", "Awaitable", "aclose", "AsyncClient"):
        assert word not in blocking


def test_the_twins_offer_the_same_methods() -> None:
    pairs = [(client.Client, client.AsyncClient), (client.Transport, client.AsyncTransport),
             (client.TokenProvider, client.AsyncTokenProvider),
             (client.TokenProviders, client.AsyncTokenProviders)]  # fmt: skip
    rename = {"close": "aclose", "__enter__": "__aenter__", "__exit__": "__aexit__"}
    for blocking, asynchronous in pairs:
        names = {n for n, _ in inspect.getmembers(blocking) if not n.startswith("_")}
        names |= {"__enter__", "__exit__"} & set(vars(blocking))
        for name in names:
            twin = getattr(asynchronous, rename.get(name, name), None)
            assert twin is not None, f"{asynchronous.__name__} has no {name}"
            if inspect.isfunction(getattr(blocking, name)):
                assert (inspect.signature(getattr(blocking, name)).parameters.keys()
                        == inspect.signature(twin).parameters.keys()), name  # fmt: skip
