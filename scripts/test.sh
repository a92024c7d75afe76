#!/usr/bin/env bash
# Set everything up, lint, check the layer contract, and run the whole test suite (browser
# tests included), then the example suite in examples/portal_tests the way a user runs theirs.
# Arguments go to pytest and skip the example suite: `scripts/test.sh -m "not slow"` is the
# fast part.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The layers point one way (pyproject.toml, [tool.importlinter]).
.venv/bin/lint-imports --no-cache >/dev/null || .venv/bin/lint-imports --no-cache
if [ $# -eq 0 ]; then
    .venv/bin/python -m pytest --durations=20
    # From its own folder, with nothing but the installed package (the plugin loads itself).
    cd examples/portal_tests
    exec ../../.venv/bin/python -m pytest -q
fi
exec .venv/bin/python -m pytest "$@"
