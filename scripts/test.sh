#!/usr/bin/env bash
# Set everything up, lint, check the layer contract, and run the whole test suite (browser
# tests included). Arguments go to pytest: `scripts/test.sh -m "not slow"` is the fast part.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The layers point one way (pyproject.toml, [tool.importlinter]).
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
exec .venv/bin/python -m pytest "$@"
