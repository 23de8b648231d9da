#!/usr/bin/env bash
# What the test suite needs beyond the service itself, installed when missing (Debian packages):
# Chromium for the console's browser tests, promtool (Debian's prometheus package) for the
# alert rules. Sourced by scripts/test.sh after scripts/ensure-env.sh, whose helpers it uses.
if [ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]; then apt_install chromium; fi
if ! command -v promtool >/dev/null 2>&1; then apt_install prometheus; fi
