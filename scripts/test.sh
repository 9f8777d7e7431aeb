#!/usr/bin/env bash
# The one test command (README: "Run the tests"). From a clean clone it installs everything
# it needs: the project venv (.venv) with the package and its test extras (building the
# JupyterLab extension), Debian's Chromium for the browser tests and redis-server for the
# CeleryExecutor tests, the Airflow venv (created by
# the test harness on first use, cached under ~/.cache/jupyter-mvdp), then runs every check:
# lint, frontend unit tests, Python tests (unit, real kernels, real jupyter_server, real
# Airflow 3) and the Galata browser tests.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

step() { printf '\n=== %s\n' "$*"; }

# the tests must leave the work tree as they found it (outputs go to tmp or ignored folders)
tree_state() { git status --porcelain 2>/dev/null || true; }
BEFORE=$(tree_state)

step "Python environment (.venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
export PATH="$ROOT/.venv/bin:$PATH"
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[test]"

step "Lint: ruff (Python), eslint + prettier + stylelint (TypeScript, CSS)"
ruff check .
ruff format --check .
jlpm lint:check

step "Frontend unit tests (jest)"
jlpm test

step "Redis (Debian's redis-server: the broker of the CeleryExecutor tests)"
if [ ! -x /usr/bin/redis-server ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  fi
fi

step "Debian's Chromium (the browser tests: Galata, and the hub login test in pytest)"
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

step "Python tests (unit, local runner, server extension, real Airflow 3, wheel, JupyterHub, Enterprise Gateway)"
python -m pytest -p no:cacheprovider -q

step "Browser tests (Galata in Debian's Chromium)"
(cd ui-tests && jlpm install --immutable && CI=1 jlpm playwright test)

step "The tests left the work tree as they found it"
AFTER=$(tree_state)
if [ "$BEFORE" != "$AFTER" ]; then
  echo "the tests changed the work tree:" >&2
  diff <(echo "$BEFORE") <(echo "$AFTER") >&2 || true
  exit 1
fi

step "All checks passed"
