"""The committed uv.lock is what pyproject.toml asks for, and the check notices if it is not."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    local = ROOT / ".tools" / "bin" / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if found is None:  # scripts/_venv.sh always installs it; a bare pytest run may not have it
        pytest.fail("uv not found: run the suite through scripts/test")
    return found


def _check(project: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    return subprocess.run(  # noqa: S603 - a fixed argument list
        [_uv(), "lock", "--check", "--offline", "--python", "python3"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_lock_matches_pyproject() -> None:
    result = _check(ROOT)
    assert result.returncode == 0, result.stderr


def test_lock_check_refuses_a_dependency_the_lock_lacks(tmp_path: Path) -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    changed = pyproject.replace('"rich>=13",', '"rich>=13",\n    "relaypass-not-locked>=1",', 1)
    assert changed != pyproject
    (tmp_path / "pyproject.toml").write_text(changed, encoding="utf-8")
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    shutil.copy(ROOT / "README.md", tmp_path / "README.md")
    result = _check(tmp_path)
    assert result.returncode != 0
