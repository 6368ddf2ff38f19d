#!/usr/bin/env bash
# Regenerates the golden outputs the CLI tests compare against. Run it only for a deliberate change of the model,
# and say why in the commit message.
set -euo pipefail
cd "$(dirname "$0")/.."
build/apps/hpsim simulate --format json 2>/dev/null > tests/golden/simulate_example.json
echo "updated tests/golden/simulate_example.json"
