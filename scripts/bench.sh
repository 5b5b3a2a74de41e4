#!/usr/bin/env bash
# Load comparison, in one run, on one receiver and one payload: the receiver
# directly, nginx proxy_pass (no verification), and hookgate (original and
# normalized). Measures req/s, latency and the proxy's CPU time per request
# from /proc. Loopback only; bounded (BENCH_DURATION seconds per run, ROUNDS
# interleaved rounds, median reported); stops everything it started.
#
# Limits of this version: wrk replays one signed request, so the gateway runs
# with dedup off (a replay would be answered from the dedup cache) and a wide
# replay window; nginx+njs and a bare pingora proxy are not measured yet.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
for tool in nginx wrk openssl; do
  command -v "$tool" >/dev/null || { apt-get install -y -qq nginx wrk openssl >/dev/null; break; }
done
cargo build --release --locked --bin hookgate
bin=$PWD/target/release/hookgate
duration=${BENCH_DURATION:-8}
rounds=${ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-32}
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
recv_port=$(port); nginx_port=$(port); orig_port=$(port); norm_port=$(port)

cat >"$work/nginx.conf" <<NGINX
worker_processes 1;
daemon off;
pid $work/nginx.pid;
error_log $work/nginx.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_buffer_size 1m;
  client_body_temp_path $work;
  proxy_temp_path $work;
  upstream recv { server 127.0.0.1:$recv_port; keepalive 64; }
  server { listen 127.0.0.1:$recv_port; location / { client_max_body_size 10m; return 200 "{\"ok\":true}"; } }
  server { listen 127.0.0.1:$nginx_port; location / { client_max_body_size 10m; proxy_pass http://recv; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
nginx -c "$work/nginx.conf" & pids+=($!)

for mode in original normalized; do
  p=$orig_port; [ "$mode" = normalized ] && p=$norm_port
  cat >"$work/$mode.toml" <<TOML
[server]
listen = "127.0.0.1:$p"
threads = 1
max_body_bytes = 1048576
[upstream]
url = "http://127.0.0.1:$recv_port"
timeout = "5s"
[log]
level = "info"
[[route]]
name = "nixflex"
path = "/webhooks/nixflex"
provider = "nixflex"
secrets = ["bench-secret"]
tolerance = "2h"
dedup = false
forward = "$mode"
TOML
  "$bin" run --config "$work/$mode.toml" 2>/dev/null & pids+=($!)
done
sleep 1
nginx_worker=$(pgrep -f "nginx: worker" -P "$(cat "$work/nginx.pid")")
gw_orig=$(pgrep -f "$work/original.toml"); gw_norm=$(pgrep -f "$work/normalized.toml")
idle_rss=$(awk '/VmRSS/ {print $2, $3}' /proc/$gw_orig/status)

cpu_ticks() { local t=0; for p in "$@"; do t=$((t + $(awk '{print $14+$15}' /proc/$p/stat))); done; echo $t; }
hz=$(getconf CLK_TCK)

declare -A results
for size in 2048 32768; do
  python3 - "$size" >"$work/body-$size.json" <<'PY'
import json, sys
size = int(sys.argv[1])
turn = {"role": "agent", "text": "I would like to book a check-up next Tuesday afternoon.", "timestamp_ms": 1200}
doc = {"event": "call.ended", "call_id": "CA1234567890", "direction": "inbound", "from_number": "+447386172392",
       "to_number": "+447446466847", "duration_seconds": 146, "transcript": []}
while len(json.dumps(doc, separators=(",", ":"))) < size:
    doc["transcript"].append(turn)
sys.stdout.write(json.dumps(doc, separators=(",", ":")))
PY
  ts=$(date +%s)
  sig=$(printf '%s' "$ts." | cat - "$work/body-$size.json" | openssl dgst -sha256 -hmac bench-secret -hex | awk '{print $2}')
  cat >"$work/post-$size.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$work/body-$size.json"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Nixflex-Signature"] = "t=$ts,v1=$sig"
LUA
  for round in $(seq "$rounds"); do
    for case in direct nginx hookgate-original hookgate-normalized; do
      case $case in
        direct) url=http://127.0.0.1:$recv_port/; procs="" ;;
        nginx) url=http://127.0.0.1:$nginx_port/webhooks/nixflex; procs=$nginx_worker ;;
        hookgate-original) url=http://127.0.0.1:$orig_port/webhooks/nixflex; procs=$gw_orig ;;
        hookgate-normalized) url=http://127.0.0.1:$norm_port/webhooks/nixflex; procs=$gw_norm ;;
      esac
      before=$([ -n "$procs" ] && cpu_ticks $procs || echo 0)
      out=$(wrk -t1 -c"$conns" -d"${duration}s" --latency -s "$work/post-$size.lua" "$url")
      after=$([ -n "$procs" ] && cpu_ticks $procs || echo 0)
      reqs=$(echo "$out" | awk '/requests in/ {print $1}')
      rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
      p50=$(echo "$out" | awk '$1=="50%" {print $2}')
      p99=$(echo "$out" | awk '$1=="99%" {print $2}')
      non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
      cpu_us=$(python3 -c "print(round(($after-$before)/$hz*1e6/max($reqs,1),1))")
      results["$size,$case,$round"]="$rps $p50 $p99 $cpu_us ${non2xx:-0}"
    done
  done
done

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  command: scripts/bench.sh  (wrk -t1 -c$conns, ${duration}s x $rounds rounds, median)"
  echo
  echo "| body | case | req/s | p50 | p99 | proxy CPU µs/req | req/s vs nginx | CPU vs nginx | non-2xx |"
  echo "|---|---|---|---|---|---|---|---|---|"
  for size in 2048 32768; do
    median() { python3 -c "import statistics,sys; print(statistics.median([float(x) for x in sys.argv[1:]]))" "$@"; }
    pick() { local i=$1 c=$2; for r in $(seq "$rounds"); do echo "${results[$size,$c,$r]}" | awk -v i="$i" '{print $i}'; done; }
    nginx_rps=$(median $(pick 1 nginx)); nginx_cpu=$(median $(pick 4 nginx))
    for case in direct nginx hookgate-original hookgate-normalized; do
      rps=$(median $(pick 1 $case)); cpu=$(python3 -c "print(round($(median $(pick 4 $case)), 1))")
      p50=$(pick 2 $case | sort | sed -n "$(( (rounds+1)/2 ))p"); p99=$(pick 3 $case | sort | sed -n "$(( (rounds+1)/2 ))p")
      bad=$(pick 5 $case | paste -sd+ | bc)
      ratio=$(python3 -c "print(f'{$rps/$nginx_rps:.2f}x')")
      cpu_ratio=$([ "$case" = direct ] && echo "-" || python3 -c "print(f'{$cpu/$nginx_cpu:.2f}x')")
      [ "$case" = direct ] && cpu="-"
      echo "| $((size/1024)) KiB | $case | ${rps%.*} | $p50 | $p99 | $cpu | $ratio | $cpu_ratio | $bad |"
    done
  done
  echo
  echo "hookgate RSS: idle $idle_rss; after the runs $(awk '/VmRSS/ {print $2, $3}' /proc/$gw_orig/status)"
} | tee "$work/result.md"
mkdir -p bench-results && cp "$work/result.md" bench-results/latest.md
