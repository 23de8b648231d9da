#!/usr/bin/env bash
# Quick start: prepares the machine if needed, then runs the service (API + workers).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-env.sh
exec bun run start
