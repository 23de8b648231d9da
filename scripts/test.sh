#!/usr/bin/env bash
# Lints, type-checks and runs the test suite against real RabbitMQ and Redis (started if they
# do not answer), a real headless Chromium and promtool (installed if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-env.sh
source scripts/ensure-test-tools.sh
bash scripts/lint.sh
bun run typecheck
exec bun test --timeout 30000 "$@"
