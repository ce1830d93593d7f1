"""``relaypass gate serve``'s app behind a real nginx with nginx-rtmp, fed by a real ffmpeg.

nginx calls the gate on publish, play, update and done, and its HLS
location asks the gate through ``auth_request``. ffmpeg publishes a test
pattern and plays it back. The binaries come from Debian's packages
(``nginx``, ``libnginx-mod-rtmp``, ``ffmpeg``), which ``scripts/test`` installs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn

from relaypass import Key, KeySet, sign_jwt
from relaypass._keyscope import KeyBinding, KeyScope
from relaypass.gate import Gate, StaticKeySource
from relaypass.gate.adapters.http import create_gate_app
from tests._net import free_port, stop_process, wait_port

RTMP_MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
FFMPEG = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
Proc = subprocess.Popen[bytes]


@dataclass
class Stack:
    gate: Gate
    key: Key  # org B's key, scoped to the root "live"
    other_org_key: Key  # org A's key: the first org, with the unprefixed space
    gate_url: str
    rtmp: str
    http: str
    tmp: Path

    def token(self, ns: list[str], **extra: object) -> str:
        claims: dict[str, object] = {"sub": "acme", "ns": ns, "exp": int(time.time()) + 600}
        claims.update(extra)
        return sign_jwt(claims, self.key)

    def publish(self, name: str, query: str, seconds: float | None = None) -> Proc:
        """ffmpeg publishing a small test pattern in real time."""
        limit = [] if seconds is None else ["-t", str(seconds)]
        return subprocess.Popen(  # noqa: S603 - fixed argv
            [
                FFMPEG, "-hide_banner", "-loglevel", "error", "-re",
                "-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", *limit,
                "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency",
                "-g", "10", "-pix_fmt", "yuv420p", "-an",
                "-f", "flv", f"{self.rtmp}/live/{name}?{query}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def play(self, name: str, query: str, seconds: float | None = 2.0) -> Proc:
        """ffmpeg playing the stream back (decoding into nothing)."""
        limit = [] if seconds is None else ["-t", str(seconds)]
        return subprocess.Popen(  # noqa: S603 - fixed argv
            [
                FFMPEG, "-hide_banner", "-loglevel", "error", "-rw_timeout", "10000000",
                "-i", f"{self.rtmp}/live/{name}?{query}", *limit, "-f", "null", "-",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )  # fmt: skip

    def wait_live(self, name: str, timeout: float = 15.0) -> None:
        """Until nginx-rtmp has written the stream's HLS playlist."""
        playlist = self.tmp / "hls" / "live" / name / "index.m3u8"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if playlist.exists() and ".ts" in playlist.read_text():
                return
            time.sleep(0.1)
        msg = f"{name} never went live"
        raise TimeoutError(msg)


def nginx_conf(tmp: Path, rtmp_port: int, http_port: int, gate_port: int) -> str:
    gate = f"http://127.0.0.1:{gate_port}"
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
load_module {RTMP_MODULE};
{user}
daemon off;
master_process on;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 256; }}
rtmp {{
  server {{
    listen 127.0.0.1:{rtmp_port};
    notify_method post;
    application live {{
      live on;
      on_publish {gate}/rtmp/on_publish;
      on_play {gate}/rtmp/on_play;
      on_update {gate}/rtmp/on_update;
      on_done {gate}/rtmp/on_done;
      notify_update_timeout 1s;
      notify_update_strict on;
      hls on;
      hls_path {tmp}/hls/live;
      hls_nested on;
      hls_fragment 1s;
      hls_playlist_length 4s;
    }}
  }}
}}
http {{
  access_log off;
  client_body_temp_path {tmp}/body;
  proxy_temp_path {tmp}/proxy;
  fastcgi_temp_path {tmp}/fastcgi;
  uwsgi_temp_path {tmp}/uwsgi;
  scgi_temp_path {tmp}/scgi;
  types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
  server {{
    listen 127.0.0.1:{http_port};
    location ~ ^/hls/[^/]+/live/(?<stream>.+)$ {{
      auth_request /_auth;
      alias {tmp}/hls/live/$stream;
    }}
    location = /_auth {{
      internal;
      proxy_pass {gate}/auth/hls;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
    }}
  }}
}}
"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    if not (RTMP_MODULE.exists() and Path(NGINX).exists() and Path(FFMPEG).exists()):
        pytest.fail("nginx, libnginx-mod-rtmp and ffmpeg are needed; scripts/test installs them")
    # Two orgs share the gate: B owns "live", A (the first org) the rest of the space.
    key = Key.generate("EdDSA", kid="rtmp_k1").bound(
        KeyBinding(org="org_b", scope=KeyScope.for_roots(["live"]))
    )
    other = Key.generate("EdDSA", kid="rtmp_a1").bound(
        KeyBinding(org="org_a", scope=KeyScope.for_roots([""]))
    )
    gate = Gate(StaticKeySource(KeySet([key.public(), other.public()])), profile="relay")
    gate_port, rtmp_port, http_port = free_port(), free_port(), free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_gate_app(gate), host="127.0.0.1", port=gate_port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_port(gate_port)
    (tmp_path / "hls" / "live").mkdir(parents=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, rtmp_port, http_port, gate_port))
    nginx = subprocess.Popen(  # noqa: S603 - fixed argv
        [NGINX, "-c", str(conf), "-p", str(tmp_path), "-e", str(tmp_path / "error.log")],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_port(rtmp_port)
        wait_port(http_port)
        yield Stack(
            gate=gate,
            key=key,
            other_org_key=other,
            gate_url=f"http://127.0.0.1:{gate_port}",
            rtmp=f"rtmp://127.0.0.1:{rtmp_port}",
            http=f"http://127.0.0.1:{http_port}",
            tmp=tmp_path,
        )
    finally:
        stop_process(nginx, signal.SIGQUIT)  # graceful: workers finish
        server.should_exit = True
        thread.join(10)


def ended(proc: subprocess.Popen[bytes], within: float) -> int | None:
    """The exit code if ``proc`` ended within ``within`` seconds, else ``None``."""
    try:
        return proc.wait(within)
    except subprocess.TimeoutExpired:
        return None


def stop(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        stop_process(proc, timeout=5)


def test_allowed_stream_plays_and_denied_ones_are_refused(stack: Stack) -> None:
    alice = stack.token(["live/alice"])
    publisher = stack.publish("alice", f"jwt={alice}")
    try:
        stack.wait_live("alice")
        viewer = stack.play("alice", f"jwt={stack.token(['live/alice'])}")
        assert ended(viewer, 20) == 0, viewer.stderr.read() if viewer.stderr else ""
        stop(viewer)
        for query in ("", "jwt=garbage", f"jwt={stack.token(['live/bob'])}"):
            refused = stack.play("alice", query)
            assert ended(refused, 20) not in (None, 0)
            stop(refused)
        # Publishing without a right to the name is refused at on_publish.
        intruder = stack.publish("carol", f"jwt={stack.token(['live/alice'])}")
        assert ended(intruder, 20) not in (None, 0)
        stop(intruder)
        assert not (stack.tmp / "hls" / "live" / "carol").exists()
    finally:
        stop(publisher)


def test_revoked_publisher_and_viewer_are_cut_mid_stream(stack: Stack) -> None:
    publisher = stack.publish("alice", f"jwt={stack.token(['live/alice'], jti='pub-1')}")
    try:
        stack.wait_live("alice")
        viewer = stack.play("alice", f"jwt={stack.token(['live/alice'], jti='view-1')}", None)
        time.sleep(2)
        assert viewer.poll() is None  # watching
        assert stack.gate.revoke_jti("view-1") == 1
        assert ended(viewer, 10) is not None  # cut at its next on_update
        assert publisher.poll() is None  # the publisher was not touched
        started = time.monotonic()
        assert stack.gate.revoke_jti("pub-1") == 1
        assert ended(publisher, 10) is not None
        assert time.monotonic() - started < 5
        # The revoked token is refused on reconnect.
        again = stack.publish("alice", f"jwt={stack.token(['live/alice'], jti='pub-1')}")
        assert ended(again, 20) not in (None, 0)
        stop(viewer, again)
    finally:
        stop(publisher)


def test_expired_publisher_is_cut_mid_stream(stack: Stack) -> None:
    exp = int(time.time()) + 4
    publisher = stack.publish("alice", f"jwt={stack.token(['live/alice'], exp=exp)}")
    try:
        stack.wait_live("alice")
        assert publisher.poll() is None
        assert ended(publisher, 15) is not None
        assert time.time() >= exp
    finally:
        stop(publisher)


def test_long_token_needs_a_stream_key(stack: Stack) -> None:
    """nginx-rtmp truncates name?args at 255 bytes: a long token fails, its stream key works."""
    padding = "p" * 300
    long_token = stack.token(["live/alice"], pad=padding)
    assert len(long_token) > 255
    truncated = stack.publish("alice", f"jwt={long_token}")
    assert ended(truncated, 20) not in (None, 0)
    stop(truncated)

    response = httpx.post(
        f"{stack.gate_url}/v1/stream-keys", headers={"authorization": f"Bearer {long_token}"}
    )
    assert response.status_code == 201
    stream_key = response.json()["streamKey"]
    assert stream_key.startswith("sk_")
    assert len(stream_key) == 25
    publisher = stack.publish("alice", f"key={stream_key}")
    try:
        stack.wait_live("alice")
        assert publisher.poll() is None
    finally:
        stop(publisher)


def test_hls_playback_is_authorized_per_request(stack: Stack) -> None:
    publisher = stack.publish("alice", f"jwt={stack.token(['live/alice'])}")
    try:
        stack.wait_live("alice")
        viewer = stack.token(["live/alice"], jti="hls-1")
        with httpx.Client(base_url=stack.http, timeout=10) as http:
            playlist = http.get(f"/hls/{viewer}/live/alice/index.m3u8")
            assert playlist.status_code == 200
            assert playlist.text.startswith("#EXTM3U")
            segment = next(line for line in playlist.text.splitlines() if line.endswith(".ts"))
            media = http.get(f"/hls/{viewer}/live/alice/{segment}")
            assert media.status_code == 200
            assert media.content[:1] == b"\x47"  # MPEG-TS sync byte
            other = stack.token(["live/bob"])
            assert http.get(f"/hls/{other}/live/alice/index.m3u8").status_code == 403
            assert http.get("/hls/garbage/live/alice/index.m3u8").status_code == 401
            stack.gate.revoke_jti("hls-1")
            assert http.get(f"/hls/{viewer}/live/alice/{segment}").status_code == 401
    finally:
        stop(publisher)


def test_another_orgs_token_never_reaches_the_stream(stack: Stack) -> None:
    """Org A's widest token, against org B's stream, through nginx: RTMP and HLS."""
    publisher = stack.publish("alice", f"jwt={stack.token(['live/alice'])}")
    claims = {"sub": "a_tenant", "ns": ["**"], "exp": int(time.time()) + 600}
    everything = sign_jwt(claims, stack.other_org_key)
    try:
        stack.wait_live("alice")
        refused = stack.play("alice", f"jwt={everything}")
        assert ended(refused, 20) not in (None, 0)
        stop(refused)
        hijack = stack.publish("bob", f"jwt={everything}")
        assert ended(hijack, 20) not in (None, 0)
        stop(hijack)
        assert not (stack.tmp / "hls" / "live" / "bob").exists()
        with httpx.Client(base_url=stack.http, timeout=10) as http:
            assert http.get(f"/hls/{everything}/live/alice/index.m3u8").status_code == 403
        stack.gate.apply_revocation({"kind": "org", "value": "org_b"})  # B disabled
        with httpx.Client(base_url=stack.http, timeout=10) as http:
            own = stack.token(["live/alice"])
            assert http.get(f"/hls/{own}/live/alice/index.m3u8").status_code == 401
    finally:
        stop(publisher)
