#!/usr/bin/env bash
# Lint: Biome (formatting, imports, lint rules; biome.json) and no line over 120 characters in
# the code, tests and scripts (Biome's formatter does not break long strings or comments;
# Markdown tables cannot wrap, so the docs are left out).
set -euo pipefail
cd "$(dirname "$0")/.."
bunx biome check .
long=$(git ls-files --cached --others --exclude-standard -- '*.ts' '*.tsx' '*.sh' '*.lua' |
  xargs awk 'length > 120 { print FILENAME ":" FNR ": " length " characters" }')
if [ -n "$long" ]; then
  echo "lines over 120 characters:"
  echo "$long"
  exit 1
fi
