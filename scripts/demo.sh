#!/usr/bin/env bash
# The main job on its embedded default: start the bundled portal with demo data, cancel the
# sample list of orders in fixtures/, print the summary and write the HTML report.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/seller-agent demo "$@"
