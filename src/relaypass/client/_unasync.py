"""Render the blocking SDK (``_sync.py``) from the asyncio one (``_async.py``), as httpcore does.

``python src/relaypass/client/_unasync.py`` writes it (a script: it runs whatever state
the package is in); ``--check`` exits 1 when the
file on disk differs from what it renders (``tests/client/test_unasync.py`` does
the same). The rules are word-bounded replacements, applied in order, then
``ruff`` sorts the imports and formats the result; nothing else is hand-edited.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Final

__all__ = ["SOURCE", "TARGET", "render"]

HERE: Final = Path(__file__).parent
SOURCE: Final = HERE / "_async.py"
TARGET: Final = HERE / "_sync.py"

#: (pattern, replacement), in order. Names first (word-bounded), then the syntax.
RULES: Final[tuple[tuple[str, str], ...]] = (
    (r"\bAsyncTokenProviders\b", "TokenProviders"),
    (r"\bAsyncTokenProvider\b", "TokenProvider"),
    (r"\bAsyncTransport\b", "Transport"),
    (r"\bAsyncProcedures\b", "Procedures"),
    (r"\bAsyncClient\b", "Client"),  # httpx.AsyncClient too
    (r"\basync_url_token_provider\b", "url_token_provider"),
    (r"\basync_pause\b", "pause"),
    (r"\b__aenter__\b", "__enter__"),
    (r"\b__aexit__\b", "__exit__"),
    (r"\baclose\b", "close"),
    (r"\basyncio\.sleep\b", "time.sleep"),
    (r"\basyncio\.Lock\b", "threading.Lock"),
    (r"\basyncio\.Event\b", "threading.Event"),
    (r"^import asyncio$", "import threading"),
    (r"Awaitable\[([^\[\]]*)\]", r"\1"),
    (r"\(asyncio\)", "(blocking)"),
    (r"\basync def\b", "def"),
    (r"\basync with\b", "with"),
    (r"\bawait ", ""),
)

_HEADER: Final = '''"""The blocking SDK: transport, client, token providers.

Generated from ``_async.py`` by ``python src/relaypass/client/_unasync.py``: edit that
file, then run the command; a test fails when this one is not what it renders.
"""
'''


def render(source: str) -> str:
    """The blocking module for ``source`` (the asyncio module's text)."""
    body = source.split('"""', 2)[2]  # the source's own docstring is replaced
    for pattern, replacement in RULES:
        body = re.sub(pattern, replacement, body, flags=re.MULTILINE)
    return _ruff(_HEADER + body)


def _ruff(text: str) -> str:
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    name = str(TARGET)
    fixed = subprocess.run(  # noqa: S603 - the project's own linter
        [ruff, "check", "--quiet", "--fix", "--select", "I,F401", "--stdin-filename", name, "-"],
        input=text, capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return subprocess.run(  # noqa: S603
        [ruff, "format", "--quiet", "--stdin-filename", name, "-"],
        input=fixed, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip


def main(argv: list[str]) -> int:
    """Write ``_sync.py``, or with ``--check`` say whether it is up to date."""
    rendered = render(SOURCE.read_text())
    if "--check" in argv:
        if TARGET.read_text() != rendered:
            print(f"{TARGET.name} is not what {SOURCE.name} renders: run {__file__}")  # noqa: T201
            return 1
        return 0
    TARGET.write_text(rendered)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
