#!/usr/bin/env bash
# Coverage-guided fuzzing of the request path (`inspect`: signature headers,
# body parsing, ids, dedup keys, normalization in both modes) and of the
# configuration parser (`config`), with cargo-fuzz (libFuzzer + ASan).
# FUZZ_SECONDS per target (default 120). Seeds come from the fixtures.
#
# cargo-fuzz wants a nightly compiler for its sanitizer flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them (used here for fuzzing only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
seconds=${FUZZ_SECONDS:-120}
export RUSTC_BOOTSTRAP=1

mkdir -p fuzz/corpus/inspect fuzz/corpus/config
python3 - <<'PY'
import os
providers = ["nixflex", "agntix", "inboundflow", "allo", "voxagent"]
for i, p in enumerate(providers):
    d = f"tests/fixtures/{p}"
    for f in sorted(os.listdir(d)):
        body = open(os.path.join(d, f), "rb").read()
        stem = f"{p}-{f[:-5]}"
        # Signed by the provider's own signer, original and normalized.
        for mode in (0x00, 0x10):
            open(f"fuzz/corpus/inspect/seed-{stem}-{mode}", "wb").write(bytes([0x20 | mode | i]) + body)
        # A forged signature header.
        open(f"fuzz/corpus/inspect/seed-{stem}-forged", "wb").write(
            bytes([i]) + b"\nt=1700000000,v1=abcdef\n" + body)
PY
cp config.example.toml fuzz/corpus/config/seed-example.toml
cp docker/compose-config/config.toml fuzz/corpus/config/seed-compose.toml

status=0
for target in inspect config; do
  echo "fuzz: $target for ${seconds}s"
  if ! cargo fuzz run -O "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -max_len=65536 2>"fuzz/$target.log"; then
    echo "fuzz: $target FAILED; see fuzz/$target.log and fuzz/artifacts/$target/" >&2
    status=1
  fi
  grep -E "^Done [0-9]+ runs" "fuzz/$target.log" || true
done
exit $status
