#!/usr/bin/env bash
# Load comparison, in one run, on one receiver and one payload mix:
#
#   direct               the receiver itself (nginx `return 200` after reading the body)
#   nginx                nginx proxy_pass, no verification
#   nginx-njs            nginx + njs verifying the Nixflex HMAC, then proxy_pass
#   pingora              pingora's own ProxyHttp pass-through (benches/passthrough.rs)
#   hookgate-original    hookgate, forward = "original", dedup on (memory)
#   hookgate-normalized  hookgate, forward = "normalized", dedup on (memory)
#   hookgate-redis       hookgate, forward = "original", dedup on a local
#                        redis-server (its CPU per request reported too)
#   hookgate-2threads    hookgate-original with `threads = 2`
#
# Every proxy runs one worker thread/process (but hookgate-2threads). Beside
# them, the raw HMAC-SHA256 of each body (benches/load.rs --hmac-only): the
# floor a verifying proxy adds to nginx's work. The client (benches/load.rs)
# signs every request afresh with a unique call id, so dedup sees first-seen
# deliveries only. Per body size: ROUNDS interleaved closed-loop rounds of
# BENCH_DURATION seconds (median: req/s, p50, p99, the proxy's CPU time per
# request from /proc), then each case at half its own maximum rate with the
# receiver measured directly at that same rate (ROUNDS each, median p99):
# the added p99.
# Loopback only; it stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
need=()
command -v nginx >/dev/null || need+=(nginx)
[ -f /usr/lib/nginx/modules/ngx_http_js_module.so ] || need+=(libnginx-mod-http-js)
command -v python3 >/dev/null || need+=(python3)
command -v pgrep >/dev/null || need+=(procps)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing ${need[*]}"
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq "${need[@]}" >/dev/null
  # The Debian package may start a system nginx on :80; the bench starts
  # its own on free loopback ports and needs nothing from it.
  if printf '%s\n' "${need[@]}" | grep -qx nginx; then
    $sudo service nginx stop >/dev/null 2>&1 || true
  fi
fi

cargo build --release --locked --bin hookgate
. scripts/bench-bin.sh
cargo bench --locked --bench load --bench passthrough --no-run
load=$(bench_bin load)
passthrough=$(bench_bin passthrough)
hookgate=$PWD/target/release/hookgate

duration=${BENCH_DURATION:-4}
rounds=${ROUNDS:-3}
conns=${BENCH_CONNECTIONS:-32}
secret=bench-secret
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for f in "$work"/nginx-*.pid; do kill "$(cat "$f" 2>/dev/null)" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
recv_port=$(port); nginx_port=$(port); njs_port=$(port); pingora_port=$(port)
orig_port=$(port); norm_port=$(port); redis_gw_port=$(port); redis_port=$(port); two_port=$(port)

# One nginx per role, each with one worker, so each one's CPU is its own.
nginx_conf() { # name, server block
  cat >"$work/nginx-$1.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_http_js_module.so;
worker_processes 1;
daemon off;
pid $work/nginx-$1.pid;
error_log $work/nginx-$1.err warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work;
  proxy_temp_path $work;
  js_path "$PWD/scripts/bench";
  js_import verify from nixflex_verify.js;
  upstream recv { server 127.0.0.1:$recv_port; keepalive 64; }
  $2
}
NGINX
  nginx -c "$work/nginx-$1.conf" &
  pids+=($!)
}
common='client_max_body_size 10m; client_body_buffer_size 1m;'
nginx_conf receiver "server { listen 127.0.0.1:$recv_port; $common location / { return 200 '{\"ok\":true}'; } }"
nginx_conf proxy "server { listen 127.0.0.1:$nginx_port; $common location / { proxy_pass http://recv; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
nginx_conf njs "server { listen 127.0.0.1:$njs_port; $common client_body_in_single_buffer on; set \$nixflex_secret \"$secret\"; location / { js_content verify.nixflex; } location @receiver { proxy_pass http://recv; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
"$passthrough" "127.0.0.1:$pingora_port" "127.0.0.1:$recv_port" 2>"$work/pingora.err" &
pids+=($!)

redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
  --dir "$work" >"$work/redis.log" 2>&1 &
pids+=($!)
redis_pid=$!
for mode in original normalized redis twothreads; do
  p=$orig_port; [ "$mode" = normalized ] && p=$norm_port; [ "$mode" = redis ] && p=$redis_gw_port
  [ "$mode" = twothreads ] && p=$two_port
  threads=1; [ "$mode" = twothreads ] && threads=2
  backend="backend = \"memory\"
max_entries = 2000000"
  [ "$mode" = redis ] && backend="backend = \"redis\"
redis_url = \"redis://127.0.0.1:$redis_port/0\""
  case $mode in redis | twothreads) forward=original ;; *) forward=$mode ;; esac
  cat >"$work/$mode.toml" <<TOML
[server]
listen = "127.0.0.1:$p"
threads = $threads
max_body_bytes = 1048576
[upstream]
url = "http://127.0.0.1:$recv_port"
timeout = "5s"
[dedup]
$backend
[log]
level = "info"
[[route]]
name = "nixflex"
path = "/webhooks/nixflex"
provider = "nixflex"
secrets = ["$secret"]
forward = "$forward"
TOML
  "$hookgate" run --config "$work/$mode.toml" 2>"$work/$mode.err" &
  pids+=($!)
done
sleep 1
worker() { pgrep -P "$(cat "$work/nginx-$1.pid")" | head -1; }
declare -A pid url
pid[direct]=""; url[direct]="http://127.0.0.1:$recv_port/webhooks/nixflex"
pid[nginx]=$(worker proxy); url[nginx]="http://127.0.0.1:$nginx_port/webhooks/nixflex"
pid[nginx-njs]=$(worker njs); url[nginx-njs]="http://127.0.0.1:$njs_port/webhooks/nixflex"
pid[pingora]=$(pgrep -f "$passthrough 127.0.0.1:$pingora_port" | head -1); url[pingora]="http://127.0.0.1:$pingora_port/webhooks/nixflex"
pid[hookgate-original]=$(pgrep -f "$work/original.toml"); url[hookgate-original]="http://127.0.0.1:$orig_port/webhooks/nixflex"
pid[hookgate-normalized]=$(pgrep -f "$work/normalized.toml"); url[hookgate-normalized]="http://127.0.0.1:$norm_port/webhooks/nixflex"
pid[hookgate-redis]=$(pgrep -f "$work/redis.toml"); url[hookgate-redis]="http://127.0.0.1:$redis_gw_port/webhooks/nixflex"
pid[hookgate-2threads]=$(pgrep -f "$work/twothreads.toml"); url[hookgate-2threads]="http://127.0.0.1:$two_port/webhooks/nixflex"
cases=(direct nginx nginx-njs pingora hookgate-original hookgate-normalized hookgate-redis hookgate-2threads)
for c in "${cases[@]:1}"; do
  [ -n "${pid[$c]}" ] || { echo "bench: $c did not start" >&2; cat "$work"/*.err >&2; exit 1; }
done
idle_rss=$(awk '/VmRSS/ {print $2}' "/proc/${pid[hookgate-original]}/status")

cpu_ticks() { [ -n "$1" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0; }
hz=$(getconf CLK_TCK)
field() { sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }

# A payload: a Nixflex call.ended whose transcript grows to the size, with
# the client's {{ID}} placeholder in call_id. call_id comes last so the
# client hashes only the tail per request (it caches the MAC state of the
# text before the id), keeping its own CPU small beside the proxy's.
body() {
  python3 - "$1" <<'PY'
import json, sys
size = int(sys.argv[1])
turn = {"role": "agent", "text": "I would like to book a check-up next Tuesday afternoon.", "timestamp_ms": 1200}
doc = {"event": "call.ended", "direction": "inbound", "from_number": "+447386172392",
       "to_number": "+447446466847", "duration_seconds": 146, "transcript": [], "call_id": "CA{{ID}}"}
text = lambda: json.dumps(doc, separators=(",", ":"))
while len(text()) < size:
    doc["transcript"].append(turn)
sys.stdout.write(text())
PY
}

# Sanity: a good signature gets 200 from every verifying case and nothing
# else, a wrong one 401 and nothing else.
body 2048 >"$work/body-check.json"
only() { # status, load output: every request answered, all with that status
  echo "$2" | grep -Eq "errors=0 .*statuses=$1:[0-9]+( |$)"
}
for c in nginx-njs hookgate-original hookgate-normalized hookgate-redis; do
  good=$("$load" --url "${url[$c]}" --body "$work/body-check.json" --sign "$secret" --connections 1 --duration 0.3 --warmup 0)
  bad=$("$load" --url "${url[$c]}" --body "$work/body-check.json" --sign wrong --connections 1 --duration 0.3 --warmup 0)
  if ! only 200 "$good" || ! only 401 "$bad"; then
    echo "bench: $c does not verify as expected: good [$good] bad [$bad]" >&2
    exit 1
  fi
done

declare -A res redis_cpu hmac
sizes=(2048 32768)
for size in "${sizes[@]}"; do
  body "$size" >"$work/body-$size.json"
  hmac[$size]=$("$load" --hmac-only "$work/body-$size.json" "$secret" | field hmac_us)
  for round in $(seq "$rounds"); do
    for c in "${cases[@]}"; do
      before=$(cpu_ticks "${pid[$c]}"); redis_before=$(cpu_ticks "$redis_pid")
      out=$("$load" --url "${url[$c]}" --body "$work/body-$size.json" --sign "$secret" \
        --connections "$conns" --duration "$duration" --warmup 1)
      after=$(cpu_ticks "${pid[$c]}"); redis_after=$(cpu_ticks "$redis_pid")
      # The warm-up second's requests are not counted: scale CPU to the
      # measured share of the run.
      reqs=$(echo "$out" | field requests)
      cpu=$(python3 -c "print(($after-$before)/$hz*1e6/max($reqs,1)*$duration/($duration+1))")
      [ "$c" = hookgate-redis ] && redis_cpu["$size,$round"]=$(python3 -c "print(($redis_after-$redis_before)/$hz*1e6/max($reqs,1)*$duration/($duration+1))")
      res["$size,$c,$round"]="$(echo "$out" | field rps) $(echo "$out" | field p50_us) $(echo "$out" | field p99_us) $cpu $(( $(echo "$out" | field non2xx) + $(echo "$out" | field errors) ))"
    done
  done
done

median() { python3 -c "import statistics,sys; print(statistics.median([float(x) for x in sys.argv[1:]]))" "$@"; }
pick() { local size=$1 i=$2 c=$3; for r in $(seq "$rounds"); do echo "${res[$size,$c,$r]}" | awk -v i="$i" '{print $i}'; done; }

# Half load: each proxy at half its own maximum, and the receiver directly
# at that same rate, interleaved; the median p99 of the rounds.
declare -A half
for size in "${sizes[@]}"; do
  for c in "${cases[@]:1}"; do
    rate=$(python3 -c "print(max(1, round($(median $(pick "$size" 1 "$c")) / 2)))")
    ps=(); ds=()
    for round in $(seq "$rounds"); do
      ps+=("$("$load" --url "${url[$c]}" --body "$work/body-$size.json" --sign "$secret" \
        --connections "$conns" --duration "$duration" --warmup 1 --rate "$rate" | field p99_us)")
      ds+=("$("$load" --url "${url[direct]}" --body "$work/body-$size.json" --sign "$secret" \
        --connections "$conns" --duration "$duration" --warmup 1 --rate "$rate" | field p99_us)")
    done
    half["$size,$c"]="$rate $(median "${ps[@]}") $(median "${ds[@]}")"
  done
done

{
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(free -g | awk '/Mem:/ {print $2}') GiB"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  command: scripts/bench.sh  (BENCH_DURATION=$duration ROUNDS=$rounds BENCH_CONNECTIONS=$conns; median of rounds)"
  echo
  echo "| body | case | req/s | p50 | p99 | proxy CPU µs/req | req/s vs nginx | CPU vs nginx | at half load: rate, p99, added p99 vs direct | failed |"
  echo "|---|---|---|---|---|---|---|---|---|---|"
  for size in "${sizes[@]}"; do
    nginx_rps=$(median $(pick "$size" 1 nginx)); nginx_cpu=$(median $(pick "$size" 4 nginx))
    for c in "${cases[@]}"; do
      rps=$(median $(pick "$size" 1 "$c"))
      p50=$(median $(pick "$size" 2 "$c")); p99=$(median $(pick "$size" 3 "$c"))
      failed=$(pick "$size" 5 "$c" | awk '{n += $1} END {print n + 0}')
      ratio=$(python3 -c "print(f'{$rps/$nginx_rps:.2f}x')")
      if [ "$c" = direct ]; then
        cpu="–"; cpu_ratio="–"; halfload="–"
      else
        cpu_us=$(median $(pick "$size" 4 "$c"))
        cpu=$(python3 -c "print(f'{$cpu_us:.1f}')")
        cpu_ratio=$(python3 -c "print(f'{$cpu_us/$nginx_cpu:.2f}x')")
        read -r rate hp dp <<<"${half[$size,$c]}"
        halfload=$(python3 -c "print(f'{$rate} req/s, {$hp/1000:.2f} ms, {($hp-$dp)/1000:+.2f} ms')")
      fi
      echo "| $((size / 1024)) KiB | $c | ${rps%.*} | $(python3 -c "print(f'{$p50/1000:.2f} ms')") | $(python3 -c "print(f'{$p99/1000:.2f} ms')") | $cpu | $ratio | $cpu_ratio | $halfload | $failed |"
    done
  done
  echo
  # The targets (issue: "Faster than nginx per webhook"), from this run.
  echo "| target | measured | bound | met |"
  echo "|---|---|---|---|"
  target() { # label, measured, bound, unit, comparison (le|ge)
    python3 -c "import sys
label, m, b, unit, cmp = sys.argv[1:6]
m, b = float(m), float(b)
ok = m <= b if cmp == 'le' else m >= b
sign = '≤' if cmp == 'le' else '≥'
print(f'| {label} | {m:.2f}{unit} | {sign} {b:.2f}{unit} | {\"yes\" if ok else \"no\"} |')" "$@"
  }
  for size in "${sizes[@]}"; do
    kib=$((size / 1024))
    floor=$(python3 -c "print($(median $(pick "$size" 4 nginx)) + ${hmac[$size]})")
    echo "| $kib KiB: raw HMAC-SHA256 of the body | ${hmac[$size]} µs | – | – |"
    o=$(median $(pick "$size" 4 hookgate-original)); n=$(median $(pick "$size" 4 hookgate-normalized))
    if [ "$size" = 2048 ]; then
      target "2 KiB original: CPU ≤ nginx + HMAC" "$o" "$floor" " µs" le
      target "2 KiB original: req/s vs nginx" "$(python3 -c "print($(median $(pick 2048 1 hookgate-original)) / $(median $(pick 2048 1 nginx)))")" 1 "×" ge
      target "2 KiB normalized: CPU ≤ 1.3 × (nginx + HMAC)" "$n" "$(python3 -c "print(1.3 * $floor)")" " µs" le
      target "2 KiB original: req/s vs nginx + njs" "$(python3 -c "print($(median $(pick 2048 1 hookgate-original)) / $(median $(pick 2048 1 nginx-njs)))")" 3 "×" ge
    else
      target "$kib KiB original: CPU ≤ 1.1 × (nginx + HMAC)" "$o" "$(python3 -c "print(1.1 * $floor)")" " µs" le
      target "$kib KiB normalized: CPU ≤ 2 × (nginx + HMAC)" "$n" "$(python3 -c "print(2 * $floor)")" " µs" le
    fi
    for c in hookgate-original pingora; do
      read -r _ hp dp <<<"${half[$size,$c]}"
      target "$kib KiB $c: added p99 at half load" "$(python3 -c "print(($hp - $dp) / 1000)")" 1 " ms" le
    done
    one=$(median $(pick "$size" 1 hookgate-original)); two=$(median $(pick "$size" 1 hookgate-2threads))
    target "$kib KiB threads 1 → 2: req/s" "$(python3 -c "print($two / $one)")" 1.7 "×" ge
    target "$kib KiB threads 1 → 2: CPU per request" "$(python3 -c "print($(median $(pick "$size" 4 hookgate-2threads)) / $o)")" 1.1 "×" le
  done
  echo
  for size in "${sizes[@]}"; do
    rcpu=$(median $(for r in $(seq "$rounds"); do echo "${redis_cpu[$size,$r]}"; done))
    echo "hookgate-redis, $((size / 1024)) KiB: redis-server CPU $(python3 -c "print(f'{$rcpu:.1f}')") µs/req (one claim SET + one commit EVALSHA per request)"
  done
  echo "redis-server: $(redis-cli -p "$redis_port" dbsize) keys, used_memory $(redis-cli -p "$redis_port" info memory | sed -n 's/^used_memory_human:\(.*\)\r$/\1/p') after the runs"
  echo "hookgate RSS: idle $((idle_rss / 1024)) MiB; after the runs (dedup on, every request a new key) $(( $(awk '/VmRSS/ {print $2}' "/proc/${pid[hookgate-original]}/status") / 1024 )) MiB"
} | tee "$work/result.md"
mkdir -p bench-results && cp "$work/result.md" bench-results/latest.md
