# Sourced by the scripts: make .venv and install the project into it.
# Usage: VENV_EXTRAS=dev . scripts/_venv.sh   (the caller's own arguments are left alone)
# Installs only when something it depends on changed (pyproject.toml, the extras, Python),
# so a second start needs no package index.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
extras="${VENV_EXTRAS:-}"
if [ ! -x .venv/bin/python ]; then
  echo "relaypass: creating .venv (first run: this installs the dependencies)" >&2
  "$python" -m venv .venv
fi
wanted="$(cat pyproject.toml; echo "extras=$extras"; .venv/bin/python --version)"
wanted="$(printf '%s' "$wanted" | sha256sum | cut -d' ' -f1)"
stamp=".venv/.relaypass-installed${extras:+-$extras}"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]; then
  echo "relaypass: installing into .venv${extras:+ (with $extras)}" >&2
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
  echo "$wanted" > "$stamp"
fi
export PATH="$root/.venv/bin:$PATH"
