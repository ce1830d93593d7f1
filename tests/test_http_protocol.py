"""A head uvicorn's parser refuses is answered as problem+json, by both parsers, over a socket.

The ASGI limits (414/431) answer what reaches the application; these heads
never do: llhttp stops near 80 KiB, h11 at 16 KiB of an incomplete head.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from relaypass import Key, KeySet
from relaypass._http_protocol import ProblemH11Protocol, ProblemHttpToolsProtocol
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.http import create_gate_app
from tests._net import free_port, wait_port
from tests.gate.test_cli_serve import running

PROTOCOLS = {"httptools": ProblemHttpToolsProtocol, "h11": ProblemH11Protocol}


@pytest.fixture(scope="module", params=list(PROTOCOLS))
def served(request: pytest.FixtureRequest) -> Iterator[int]:
    port = free_port()
    app = create_gate_app(Gate(StaticKeySource(KeySet([]))))
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, http=PROTOCOLS[request.param], log_level="error"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(port)
    yield port
    server.should_exit = True
    thread.join(10)


def exchange(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes; the status and headers of the first answer, and all that follows."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)  # a refusing server reads on until the client is done
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def refusal(port: int, request: bytes) -> tuple[int, str]:
    status, headers, body = exchange(port, request)
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status
    return status, problem["code"]


def test_a_200_kb_url_is_414(served: int) -> None:
    request = b"GET /" + b"a" * 200_000 + b" HTTP/1.1\r\nhost: t\r\n\r\n"
    assert refusal(served, request) == (414, "URI_TOO_LONG")


def test_a_200_kb_header_is_431(served: int) -> None:
    request = b"GET / HTTP/1.1\r\nhost: t\r\nx-big: " + b"b" * 200_000 + b"\r\n\r\n"
    assert refusal(served, request) == (431, "HEADERS_TOO_LARGE")


def test_garbage_is_400(served: int) -> None:
    assert refusal(served, b"NOT HTTP AT ALL\x00\r\n\r\n") == (400, "INVALID_REQUEST")


def test_normal_requests_on_one_connection_pass(served: int) -> None:
    request = b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n"
    status, _, body = exchange(
        served, request + request.replace(b"t\r\n", b"t\r\nconnection: close\r\n")
    )
    assert status == 200
    assert body.count(b"HTTP/1.1 200") == 1  # the second answer follows the first


def test_gate_serve_answers_a_huge_url_as_problem_json(tmp_path: Path) -> None:
    port = free_port()
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps(KeySet([Key.generate("EdDSA", kid="k1").public()]).to_jwks()))
    with running(["gate", "serve", "--key", str(keys), "--port", str(port)],
                 tmp_path / "gate.log"):  # fmt: skip
        wait_port(port)
        request = b"GET /auth/hls?" + b"q" * 200_000 + b" HTTP/1.1\r\nhost: t\r\n\r\n"
        assert refusal(port, request) == (414, "URI_TOO_LONG")
