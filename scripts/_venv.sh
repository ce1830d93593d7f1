# Sourced by the scripts: make .venv and install the project into it from the committed uv.lock.
# Usage: VENV_EXTRAS="dev" . scripts/_venv.sh   (space-separated extras; the caller's own
# arguments are left alone). Every install is the exact set of versions and hashes in uv.lock
# (`uv sync --frozen`): a new release of any dependency changes nothing until scripts/lock is run
# and its result committed. A second start, with nothing changed, needs no package index.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
python="${PYTHON:-python3}"
export UV_PYTHON_DOWNLOADS=never  # the machine's own Python, never a downloaded one
# uv itself: the pinned, hash-checked version in .tools/ (one pip install, the first time).
uv="$root/.tools/bin/uv"
uv_pin="$(grep -o '^uv==[0-9.]*' scripts/uv-requirements.txt)"
if [ ! -x "$uv" ] || [ "uv $("$uv" --version | cut -d' ' -f2)" != "${uv_pin/==/ }" ]; then
  echo "relaypass: installing $uv_pin into .tools (first run)" >&2
  rm -rf .tools && "$python" -m venv .tools
  .tools/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r scripts/uv-requirements.txt
fi
extra_args=()
for extra in ${VENV_EXTRAS:-}; do extra_args+=(--extra "$extra"); done
[ -x .venv/bin/python ] || echo "relaypass: creating .venv (first run: this installs the dependencies)" >&2
"$uv" sync --quiet --frozen --python "$python" ${VENV_INEXACT:+--inexact} "${extra_args[@]}"
export PATH="$root/.venv/bin:$root/.tools/bin:$PATH"
