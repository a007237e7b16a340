#!/usr/bin/env bash
# Installs the command-line tools the test suite needs into .tools/bin, pinned and checksum-verified.
# Sections are added per tool; each is idempotent and fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin
