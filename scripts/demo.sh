#!/usr/bin/env bash
# The main job: on a fresh machine, install what is missing, build hookgate,
# start a demo receiver and the gateway with config.example.toml, then send
# every provider's documented events (accepted) and a set of bad requests
# (rejected), and show what reached the receiver. Stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cargo build --release --locked --bin hookgate
bin=target/release/hookgate
gateway=http://127.0.0.1:8080
admin=http://127.0.0.1:9090

# Demo secrets; in production these come from your secret store.
export NIXFLEX_WEBHOOK_SECRET=demo-nixflex-secret
export AGNTIX_WEBHOOK_SECRET=whsec_ZGVtby1hZ250aXgtc2lnbmluZy1rZXk=
export INBOUNDFLOW_WEBHOOK_SECRET=demo-inboundflow-secret
export ALLO_WEBHOOK_SECRET=whsec_ZGVtby1hbGxvLXNpZ25pbmcta2V5IQ==
export VOXAGENT_WEBHOOK_SECRET=demo-voxagent-secret
export TWILIO_AUTH_TOKEN=demo-twilio-auth-token
export VAPI_WEBHOOK_SECRET=demo-vapi-hmac-secret

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

wait_for() { # url
  for _ in $(seq 1 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "demo: $1 did not come up" >&2; return 1
}

echo "== hookgate check"
"$bin" check --config config.example.toml

python3 docker/demo_receiver.py --listen 127.0.0.1:3000 >"$work/receiver.log" 2>&1 &
pids+=($!)
"$bin" run --config config.example.toml 2>"$work/gateway.log" &
pids+=($!)
wait_for http://127.0.0.1:3000/
wait_for "$admin/healthz"
curl -s "$admin/readyz"; echo

secret_of() {
  case "$1" in
    nixflex) echo "$NIXFLEX_WEBHOOK_SECRET" ;; agntix) echo "$AGNTIX_WEBHOOK_SECRET" ;;
    inboundflow) echo "$INBOUNDFLOW_WEBHOOK_SECRET" ;; allo) echo "$ALLO_WEBHOOK_SECRET" ;;
    voxagent) echo "$VOXAGENT_WEBHOOK_SECRET" ;; twilio) echo "$TWILIO_AUTH_TOKEN" ;;
    vapi) echo "$VAPI_WEBHOOK_SECRET" ;;
  esac
}

echo; echo "== accepted: every documented event of every provider"
for p in nixflex agntix inboundflow allo voxagent twilio vapi; do
  # The route keys `send` signs with: Twilio signs the public URL the route
  # names (not this local address), Vapi's route uses the HMAC credential.
  opts=()
  case "$p" in
    twilio) opts=(--option public_url=https://hooks.example.com/webhooks/twilio) ;;
    vapi) opts=(--option credential=hmac) ;;
  esac
  for e in $("$bin" send "$p" --list); do
    "$bin" send "$p" --to "$gateway/webhooks/$p" --secret "$(secret_of "$p")" --event "$e" "${opts[@]}" | head -1 || true
  done
done

echo; echo "== a provider retry of the same delivery: forwarded once, then 200 duplicate"
"$bin" send nixflex --to "$gateway/webhooks/nixflex" --secret "$NIXFLEX_WEBHOOK_SECRET" --repeat 2 || true

echo; echo "== rejected"
show() { printf '%-44s' "$1"; shift; curl -s -o "$work/body" -w '%{http_code} ' "$@"; cat "$work/body"; echo; }
"$bin" send agntix --to "$gateway/webhooks/agntix" --secret whsec_d3Jvbmcta2V5LWZvci1kZW1v | head -2 || true
show "forged Nixflex signature:" -X POST "$gateway/webhooks/nixflex" \
  -H "X-Nixflex-Signature: t=$(date +%s),v1=$(printf '0%.0s' $(seq 64))" -d '{"event":"call.ended"}'
show "stale Nixflex timestamp:" -X POST "$gateway/webhooks/nixflex" \
  -H "X-Nixflex-Signature: t=1000000000,v1=$(printf 'a%.0s' $(seq 64))" -d '{}'
show "no signature at all:" -X POST "$gateway/webhooks/allo" -d '{"topic":"PING"}'
show "GET on a webhook route:" "$gateway/webhooks/nixflex"
show "unknown path:" -X POST "$gateway/webhooks/unknown" -d '{}'
head -c 2000000 /dev/zero | tr '\0' 'x' >"$work/big"
show "2 MB body (limit 1 MiB):" -X POST "$gateway/webhooks/voxagent" -H 'X-Voxagent-Signature: 00' --data-binary @"$work/big"

echo; echo "== what reached the receiver ($(grep -c 'receiver got' "$work/receiver.log") requests, each verified once)"
grep 'receiver got' "$work/receiver.log" | cut -c1-200

echo; echo "== metrics (excerpt)"
curl -s "$admin/metrics" | grep -E '^hookgate_requests_total' | grep -v ' 0$' | head -30
