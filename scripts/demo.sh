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
export RETELL_API_KEY=demo-retell-api-key
export ELEVENLABS_WEBHOOK_SECRET=demo-elevenlabs-secret
export TELNYX_PUBLIC_KEY=sG3MRU54tm5D0z5KKnMlwfIbhtI0iNhA8S7UseD2W5I=
export BILLING_WEBHOOK_SECRET=whsec_demo-billing-secret
export CALLBACK_TOKEN=demo-callback-token
# Telnyx signs with a private key; the route holds its public key (above).
# A demo pair: this is the seed of TELNYX_PUBLIC_KEY.
telnyx_private_key=LBwQTNroPxutpoBX0OMffNAqq+e0nGOXBA2ThRbHwK0=

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
    voxagent) echo "$VOXAGENT_WEBHOOK_SECRET" ;; retell) echo "$RETELL_API_KEY" ;;
    elevenlabs) echo "$ELEVENLABS_WEBHOOK_SECRET" ;; telnyx) echo "$telnyx_private_key" ;;
    twilio) echo "$TWILIO_AUTH_TOKEN" ;; vapi) echo "$VAPI_WEBHOOK_SECRET" ;;
  esac
}

send_all() { # provider route secret [send options: the route's own keys]
  local p=$1 route=$2 secret=$3
  shift 3
  for e in $("$bin" send "$p" --list); do
    "$bin" send "$p" --to "$gateway/webhooks/$route" --secret "$secret" --event "$e" "$@" | head -1 || true
  done
}

echo; echo "== accepted: every documented event of every provider"
for p in nixflex agntix inboundflow allo voxagent retell elevenlabs telnyx; do
  send_all "$p" "$p" "$(secret_of "$p")"
done
# Twilio signs the public URL its route names (not this local address);
# Vapi's route uses the HMAC credential.
send_all twilio twilio "$TWILIO_AUTH_TOKEN" --option public_url=https://hooks.example.com/webhooks/twilio
send_all vapi vapi "$VAPI_WEBHOOK_SECRET" --option credential=hmac
# The generic routes of config.example.toml, signed as their keys say.
send_all hmac billing "$BILLING_WEBHOOK_SECRET" --option signature_header=Stripe-Signature \
  --option signature_format=list --option timestamp_key=t --option 'signed_content={timestamp}.{body}' \
  --option delivery_id=json:/id --option event_pointer=/type
send_all static callbacks "$CALLBACK_TOKEN" --option token_header=X-Callback-Token

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
