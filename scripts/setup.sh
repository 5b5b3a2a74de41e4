#!/usr/bin/env bash
# Installs what a fresh machine lacks to build and test hookgate:
# cmake (pingora's zlib-ng), a C toolchain (ring, zstd-sys), redis-server
# and redis-cli (the Redis dedup tests start their own servers, TLS ones and
# Clusters; the CLI joins a Cluster and pings a TLS server), curl (the demo).
set -euo pipefail

need=()
command -v cmake >/dev/null 2>&1 || need+=(cmake)
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
# The SDK interop tests run the providers' Python SDKs in a virtualenv.
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || need+=(python3-venv)

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  # The Debian package starts a system redis on :6379; the tests start their
  # own on free ports and need nothing from it.
  if printf '%s\n' "${need[@]}" | grep -qx redis-server; then
    $sudo service redis-server stop >/dev/null 2>&1 || true
  fi
fi
command -v cargo >/dev/null 2>&1 || { echo "setup: cargo (Rust) is required" >&2; exit 1; }
