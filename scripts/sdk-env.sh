#!/usr/bin/env bash
# Installs the providers' official SDKs (tests/sdk/requirements.txt) into a
# virtualenv under target/, once per change of the requirements, and prints
# its python. The integration tests use them as independent signers and
# verifiers (tests/it/sdk.rs).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/sdk-venv
stamp=$venv/.requirements.sha256
want=$(sha256sum tests/sdk/requirements.txt | cut -d' ' -f1)
if [ ! -x "$venv/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "sdk-env: installing the providers' SDKs into $venv" >&2
  rm -rf "$venv"
  mkdir -p target
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
  echo "$want" >"$stamp"
fi
echo "$PWD/$venv/bin/python"
