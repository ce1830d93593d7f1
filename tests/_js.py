"""The browser package (``clients/js``), built once for every worker's tests that load it."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
from pathlib import Path
from typing import Final

import pytest

PACKAGE: Final = Path(__file__).parents[1] / "clients" / "js"


def run(*argv: str) -> subprocess.CompletedProcess[str]:
    """A command in the package's directory."""
    return subprocess.run(  # noqa: S603 - fixed argv
        argv, cwd=PACKAGE, capture_output=True, text=True, timeout=300, check=False
    )


def _sources_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted([*PACKAGE.glob("src/*.ts"), *PACKAGE.glob("test/*.ts"),
                        PACKAGE / "tsconfig.json", PACKAGE / "package-lock.json"]):  # fmt: skip
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()


#: What the package's README and the room example tell a reader to run, from the checkout.
BUILD_COMMANDS: Final = "npm --prefix clients/js ci && npm --prefix clients/js run build"


@pytest.fixture(scope="module")
def built() -> Path:
    """The package's compiled modules (see :func:`build`)."""
    return build()


def build() -> Path:
    """``npm ci`` (from the lock file), strict ``tsc``: the package's compiled modules.

    Built once for all workers: a lock, and a stamp of the sources it was built from
    (a build never rewrites files another worker's page is loading).
    """
    npm = shutil.which("npm")
    assert npm is not None, "node and npm are needed (scripts/test installs them)"
    stamp = PACKAGE / "dist" / ".sources"
    with (PACKAGE / ".build.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (PACKAGE / "node_modules" / "typescript").exists():
            done = run(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error")
            assert done.returncode == 0, done.stderr
        digest = _sources_digest()
        if not stamp.exists() or stamp.read_text() != digest:
            done = run(npm, "run", "build")
            assert done.returncode == 0, done.stdout + done.stderr
            stamp.write_text(digest)
    return PACKAGE / "dist" / "src"
