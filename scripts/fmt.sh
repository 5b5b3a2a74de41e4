#!/usr/bin/env bash
# Formats the code (`scripts/fmt.sh`) or checks it (`scripts/fmt.sh --check`).
# `cargo fmt` alone misses the provider folders: their `mod` lines are
# written by the `registry!` macro, which rustfmt does not expand, so each
# folder's `mod.rs` (and the modules it declares) is given to rustfmt too.
set -euo pipefail
cd "$(dirname "$0")/.."
check=()
if [[ "${1:-}" == "--check" ]]; then
    check=(--check)
fi
cargo fmt "${check[@]}"
edition=$(sed -n 's/^edition *= *"\([0-9]*\)".*/\1/p' Cargo.toml | head -n1)
rustfmt --edition "$edition" "${check[@]}" src/provider/*/mod.rs
