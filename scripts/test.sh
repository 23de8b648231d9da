#!/usr/bin/env bash
# Lints, type-checks and runs the test suite against real RabbitMQ and Redis (started if they
# do not answer).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-env.sh
bash scripts/lint.sh
bun run typecheck
exec bun test --timeout 30000 "$@"
