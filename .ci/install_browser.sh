#!/usr/bin/env bash
# What tests/test_browser.py needs beyond requirements.txt: Debian's chromium at /usr/bin/chromium, driven by the
# `playwright` Python package (from requirements.txt) through executable_path. No browser is downloaded by a test
# tool (`playwright install` is never run): the machine's package manager installs Debian's build.
# Idempotent and non-interactive; prints what it did. Called by .ci/run before the tests (as root, CI=true).
set -euo pipefail

say() { echo "install_browser: $*"; }

if [ -x /usr/bin/chromium ]; then
    say "chromium already installed: $(/usr/bin/chromium --version 2>/dev/null || echo '/usr/bin/chromium')"
else
    if ! command -v apt-get >/dev/null 2>&1; then
        say "no /usr/bin/chromium and no apt-get: install Chromium with your package manager" >&2
        exit 1
    fi
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        SUDO="sudo"
    fi
    say "installing Debian's chromium (apt-get update && apt-get install -y --no-install-recommends chromium)"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends chromium
    say "installed: $(/usr/bin/chromium --version 2>/dev/null || echo '/usr/bin/chromium')"
fi

PYTHON="${PYTHON:-python3}"
if "$PYTHON" -c "import playwright.sync_api" 2>/dev/null; then
    say "python package playwright already installed ($("$PYTHON" -m pip show playwright 2>/dev/null | sed -n 's/^Version: //p'))"
else
    say "installing python package playwright (listed in requirements.txt)"
    "$PYTHON" -m pip install -q "$(grep -E '^playwright' "$(dirname "$0")/../requirements.txt" || echo playwright)"
fi
say "done"
