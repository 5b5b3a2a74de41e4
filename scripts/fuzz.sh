#!/usr/bin/env bash
# Coverage-guided fuzzing with cargo-fuzz (libFuzzer + ASan, debug assertions
# on). Targets:
#   inspect             the request path: signature headers, body parsing,
#                       ids, dedup keys, normalization in both modes
#   config              the configuration parser
#   http1               the HTTP/1.1 codec (src/http1): request and response
#                       heads and chunked bodies, fed whole and in fuzz-chosen
#                       splits; no panic, spans inside the buffer, bodies
#                       under the limit, the same result however it is split
#                       (debug assertions also check every accepted head
#                       against the codec's byte-by-byte strict grammar)
#   http1_differential  the same bytes to the codec, plain httparse, a framing
#                       derivation from RFC 9112, and pingora's HTTP/1 server
#                       session: whatever the codec accepts, httparse accepts
#                       with the same head, the RFC framing agrees, and
#                       pingora (if it accepts) sees the same method, path
#                       and body (bit 0x40 of the first byte: the rest is a
#                       chunked body behind a valid head; 0x60: the rest
#                       describes one); it prints how often pingora accepted
#                       what the codec refused, per refusal
#
# Usage: scripts/fuzz.sh [target...]   (default: all four)
#        FUZZ_SECONDS=600 scripts/fuzz.sh http1 http1_differential
# FUZZ_SECONDS per target (default 120). Seeds come from the fixtures and
# from hand-written messages; the corpus grows in fuzz/corpus/<target>, the
# log is fuzz/<target>.log, a crash lands in fuzz/artifacts/<target>/ and
# replays with `cargo fuzz run -O -a <target> <file>`.
#
# cargo-fuzz wants a nightly compiler for its sanitizer flags; on a stable
# toolchain RUSTC_BOOTSTRAP=1 unlocks them (used here for fuzzing only).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
seconds=${FUZZ_SECONDS:-120}
export RUSTC_BOOTSTRAP=1
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(inspect config http1 http1_differential)

mkdir -p fuzz/corpus/inspect fuzz/corpus/config fuzz/corpus/http1 fuzz/corpus/http1_differential
python3 - <<'PY'
import os
import re
# The registry's order (src/provider.rs): the inspect target's first byte
# picks a provider by its index there.
registry = open("src/provider.rs").read()
block = registry[registry.index("registry! {"):]
block = block[:block.index("}")]
providers = [m.group(1).removeprefix("r#") for m in re.finditer(r"^\s*(r#\w+|\w+)::\w+,", block, re.M)]
for i, p in enumerate(providers):
    d = f"src/provider/{p}/fixtures"
    if not os.path.isdir(d):
        continue
    for f in sorted(os.listdir(d)):
        body = open(os.path.join(d, f), "rb").read()
        stem = f"{p}-{f.rsplit('.', 1)[0]}"
        # Signed by the provider's own signer, original and normalized.
        for mode in (0x00, 0x10):
            open(f"fuzz/corpus/inspect/seed-{stem}-{mode}", "wb").write(bytes([0x20 | mode | i]) + body)
        # A forged signature header.
        open(f"fuzz/corpus/inspect/seed-{stem}-forged", "wb").write(
            bytes([i]) + b"\nt=1700000000,v1=abcdef\n" + body)

# HTTP/1.1 messages; the first byte picks limits, read splits and, for
# responses, whether the request was a HEAD.
messages = {
    "cl": b"POST /hook?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n"
          b"Content-Length: 5\r\n\r\nhello",
    "chunked": b"POST /hook HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;a=b\r\nhello\r\n6;q=\"x y\"\r\n world\r\n0\r\nX-T: 1\r\n\r\n",
    "pipelined": b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}"
                 b"GET /b HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
    "http10": b"POST / HTTP/1.0\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
    "smuggle": b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\n\r\n",
    "resp-cl": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
    "resp-chunked": b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "resp-204": b"HTTP/1.1 204 No Content\r\nContent-Length: 9\r\n\r\n",
    "resp-10": b"HTTP/1.0 200 OK\r\n\r\nbody until close",
    "body": b"5\r\nhello\r\n0\r\n\r\n",
}
for target in ("http1", "http1_differential"):
    for name, message in messages.items():
        for selector in (0x00, 0x01, 0x02, 0x80):
            open(f"fuzz/corpus/{target}/seed-{name}-{selector}", "wb").write(bytes([selector]) + message)
# The differential target puts a chunked request head in front (bit 0x40).
for name in ("body", "chunked"):
    body = messages[name].split(b"\r\n\r\n", 1)[1] if name == "chunked" else messages[name]
    open(f"fuzz/corpus/http1_differential/seed-body-{name}-64", "wb").write(bytes([0x40]) + body)
# ... or a body generated from (control, length, data) triples (0x60).
for i, triples in enumerate([b"\x00\x05hello\x00\x00", b"\x08\x03abc\x1c\x02xy\x10\x00",
                             b"\x07\x10" + bytes(range(16)) + b"\x30\x00"]):
    open(f"fuzz/corpus/http1_differential/seed-generated-{i}", "wb").write(bytes([0x60]) + triples)
PY
cp config.example.toml fuzz/corpus/config/seed-example.toml
cp docker/compose-config/config.toml fuzz/corpus/config/seed-compose.toml

status=0
for target in "${targets[@]}"; do
  case "$target" in
    http1 | http1_differential) extra=(-max_len=4096 -dict=fuzz/http1.dict) ;;
    *) extra=(-max_len=65536) ;;
  esac
  echo "fuzz: $target for ${seconds}s"
  if ! cargo fuzz run -O -a "$target" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" "${extra[@]}" 2>"fuzz/$target.log"; then
    echo "fuzz: $target FAILED; see fuzz/$target.log and fuzz/artifacts/$target/" >&2
    status=1
  fi
  grep -E "^Done [0-9]+ runs" "fuzz/$target.log" || true
  grep -E "pingora accepted" "fuzz/$target.log" | tail -1 || true
done
exit $status
