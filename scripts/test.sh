#!/usr/bin/env bash
# The test command: installs what the machine lacks, then runs every test
# (unit, integration against the real gateway/receiver/redis-server).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo test --locked --all-targets "$@"
