# Sourced by the scripts: make .venv and install the project into it.
# Usage: VENV_EXTRAS=dev . scripts/_venv.sh   (the caller's own arguments are left alone)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
extras="${VENV_EXTRAS:-}"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras:+[$extras]}"
export PATH="$root/.venv/bin:$PATH"
