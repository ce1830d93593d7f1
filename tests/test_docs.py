"""The documentation site builds with broken links as errors, and speaks of the product only."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - fixed argv
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_site_builds_strictly(tmp_path: Path) -> None:
    built = _build(ROOT, tmp_path / "site")
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "site" / "tenancy" / "index.html").exists()


def test_a_broken_link_fails_the_build(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    built = _build(project, tmp_path / "site")
    assert built.returncode != 0
    assert "no-such-page.md" in built.stderr


def test_user_facing_text_never_names_the_product_documents() -> None:
    texts = [ROOT / "README.md", *ROOT.glob("docs/*.md"), *ROOT.glob("examples/**/*.*")]
    texts += [*ROOT.glob("src/relaypass/**/*.py"), *ROOT.glob("src/relaypass/**/*.html")]
    offending = [
        str(path.relative_to(ROOT))
        for path in texts
        if path.is_file() and re.search(r"\bseeds?[ -]?0\d\d\b", path.read_text(), re.IGNORECASE)
    ]
    assert offending == []
