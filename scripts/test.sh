#!/usr/bin/env bash
# The test command: installs what the machine lacks, then runs every test
# (unit, integration against the real gateway/receiver/redis-server, and
# interop with the providers' official SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
# The providers' official SDKs, for the interop tests (tests/it/sdk.rs).
HOOKGATE_SDK_PYTHON=$(scripts/sdk-env.sh)
export HOOKGATE_SDK_PYTHON
cargo test --locked --all-targets "$@"
