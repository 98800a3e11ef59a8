#!/usr/bin/env bash
# One idempotent setup step: npm packages, the Python venv (servers + ultralytics), the
# offline ultralytics config, and the TypeScript build. A second run with nothing changed
# takes seconds: each part is skipped while the hash of its inputs is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON_BASE=${GF_BASE_PYTHON:-python3}

say() { printf '[setup] %s\n' "$*"; }
hash_of() { cat "$@" | sha256sum | cut -c1-16; }

# 1. npm packages (npm ci only when the lock file changed)
npm_hash=$(hash_of package-lock.json)
if [ ! -f node_modules/.gf-hash ] || [ "$(cat node_modules/.gf-hash)" != "$npm_hash" ]; then
  say "installing npm packages"
  # npm ci installs exactly the committed lock (it holds every platform's optional packages) and never rewrites it
  npm ci --no-audit --no-fund --loglevel=error
  echo "$npm_hash" > node_modules/.gf-hash
fi

# 2. Python venv, shared between clones of the same requirements (keyed by their hash)
py_hash=$(hash_of requirements.txt requirements.lock)
VENV=${GF_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/guardianflow/venv-$py_hash}
if [ ! -f "$VENV/.gf-complete" ]; then
  say "creating Python venv at $VENV (first time: a few minutes)"
  rm -rf "$VENV"
  "$PYTHON_BASE" -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check -q -r requirements.txt -c requirements.lock
  touch "$VENV/.gf-complete"
fi
ln -sfn "$VENV" .venv

# 3. ultralytics offline: its config dir holds the fonts it would otherwise download
STATE=${GF_STATE_DIR:-$ROOT/.gflow}
"$VENV/bin/python" executors/offline_setup.py "$STATE/ultralytics"

# 4. Chromium for the fleet page's browser test and `gflow metrics screenshot` (Debian's package;
#    playwright-core drives it, so nothing is downloaded at run time). GF_SETUP_TEST_TOOLS=0 (a GPU
#    host, deploy/README.md) skips this step and the next.
TEST_TOOLS=${GF_SETUP_TEST_TOOLS:-1}
if [ "$TEST_TOOLS" != 0 ] && ! command -v chromium >/dev/null 2>&1; then
  say "installing Debian's chromium"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q --no-install-recommends chromium >/dev/null
fi

# 5. PostgreSQL for scripts/prod-check.sh (the production stack's MLflow backend, run as real
#    processes): Debian's server binaries only; the check starts its own cluster in a temp folder
if [ "$TEST_TOOLS" != 0 ] && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  say "installing Debian's postgresql"
  if [ "$(id -u)" = 0 ]; then apt_get=(apt-get); else apt_get=(sudo apt-get); fi
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -q --no-install-recommends postgresql >/dev/null
fi

# 6. TypeScript build (the CLI and workers run from dist/)
src_hash=$(find common scenarios workflows activities fleet optimizer server workers cli stack tsconfig.json tsconfig.build.json package-lock.json -type f \( -name '*.ts' -o -name '*.json' \) -print0 | sort -z | xargs -0 cat | sha256sum | cut -c1-16)
if [ ! -f dist/.gf-hash ] || [ "$(cat dist/.gf-hash)" != "$src_hash" ]; then
  say "building TypeScript"
  rm -rf dist
  npx tsc -p tsconfig.build.json
  echo "$src_hash" > dist/.gf-hash
fi
say "ready (venv: $VENV)"
