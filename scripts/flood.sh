#!/usr/bin/env bash
# Attack measurement: slowloris connections and slow bodies against the
# webhook listener, with valid signed deliveries and admin health checks
# measured throughout (benches/flood.rs is the client).
#
#   1. the project's demo receiver (docker/demo_receiver.py) and one
#      release hookgate: threads = 2, max_connections = 4096,
#      max_buffered_bytes = 256 MiB, max_body_bytes = 1 MiB,
#      request_timeout = 60s (stalled bodies are not timed out during the
#      run), one Nixflex route, dedup in memory;
#   2. idle RSS, then a baseline: valid requests and health checks only
#      (FLOOD_BASELINE seconds);
#   3. the attack: FLOOD_IDLE idle connections (half silent, half a few head
#      bytes), then, 1.5 s later (past the gateway's eviction grace: the
#      bodies get in and meet the body budget), FLOOD_SLOW_BODIES fake-signed
#      requests declaring FLOOD_BODY_BYTES and sending all but the last
#      byte; nothing is reopened; all held for
#      FLOOD_DURATION seconds (kept under request_timeout), while one valid
#      request goes out every 50 ms and GET /healthz every 200 ms, each on a
#      fresh connection. The gateway's VmRSS / VmHWM (/proc) and its
#      connection and buffer gauges (/metrics) are sampled every second.
#
# Writes bench-results/flood.md. Passes when the peak RSS stays under
# FLOOD_CONSTANT_MIB (24) + 16 KiB x max_connections + 1.2 x
# max_buffered_bytes (README, "Memory under attack"), every valid request
# sent once the attack's connections were open was answered 200, and every
# health check was; exits 1 otherwise (the result is written either way). Loopback only; it stops everything it started.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
command -v python3 >/dev/null || { echo "flood: python3 is required" >&2; exit 1; }

idle=${FLOOD_IDLE:-15000}
slow=${FLOOD_SLOW_BODIES:-500}
body_bytes=${FLOOD_BODY_BYTES:-1048576}
duration=${FLOOD_DURATION:-55}
baseline=${FLOOD_BASELINE:-10}
constant_mib=${FLOOD_CONSTANT_MIB:-24}
budget=268435456
max_connections=4096
secret=flood-secret

hard=$(ulimit -Hn)
if [ "$hard" != unlimited ] && [ "$hard" -lt $((idle + slow + 512)) ]; then
  echo "flood: the hard open-files limit ($hard) is below $((idle + slow + 512)): the client's connects past it will fail" >&2
fi

cargo build --release --locked --bin hookgate
cargo bench --locked --bench flood --no-run
. scripts/bench-bin.sh
flood=$(bench_bin flood)
target_dir=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
hookgate=$target_dir/release/hookgate
[ -x "$flood" ] && [ -x "$hookgate" ] || { echo "flood: no client ($flood) or gateway ($hookgate)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
recv_port=$(port); gw_port=$(port); admin_port=$(port)

python3 docker/demo_receiver.py --listen "127.0.0.1:$recv_port" >"$work/receiver.log" 2>&1 &
pids+=($!)

cat >"$work/hookgate.toml" <<TOML
[server]
listen = "127.0.0.1:$gw_port"
admin_listen = "127.0.0.1:$admin_port"
threads = 2
max_connections = $max_connections
max_buffered_bytes = $budget
max_body_bytes = 1048576
request_timeout = "60s"
[upstream]
url = "http://127.0.0.1:$recv_port"
timeout = "5s"
[dedup]
backend = "memory"
[log]
level = "warn"
[[route]]
name = "nixflex"
path = "/webhooks/nixflex"
provider = "nixflex"
secrets = ["$secret"]
forward = "normalized"
TOML
"$hookgate" run --config "$work/hookgate.toml" >"$work/hookgate.log" 2>&1 &
gw=$!
pids+=($gw)

admin="127.0.0.1:$admin_port"
url="http://127.0.0.1:$gw_port/webhooks/nixflex"
ready=""
for _ in $(seq 100); do
  if curl -fsS --max-time 1 "http://$admin/readyz" >/dev/null 2>&1 &&
    curl -fsS --max-time 1 "http://127.0.0.1:$recv_port/" >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.1
done
[ -n "$ready" ] || { echo "flood: the gateway or the receiver did not start" >&2; cat "$work"/*.log >&2; exit 1; }

status_kib() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$gw/status"; }
metric() { # name, metrics file
  awk -v m="$1" '$1 == m {print $2}' "$2"
}
scrape() { curl -fsS --max-time 2 "http://$admin/metrics" >"$1" 2>/dev/null || : >"$1"; }

sleep 2
idle_rss=$(status_kib VmRSS)

echo "flood: baseline, ${baseline}s of valid requests and health checks"
"$flood" --url "$url" --admin "$admin" --secret "$secret" --idle 0 --slow-bodies 0 \
  --duration "$baseline" >"$work/baseline.out" 2>"$work/baseline.err"
baseline_rss=$(status_kib VmRSS)

echo "flood: attack, $idle idle + $slow slow bodies of $body_bytes bytes for ${duration}s"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
"$flood" --url "$url" --admin "$admin" --secret "$secret" --idle "$idle" --slow-bodies "$slow" \
  --body-bytes "$body_bytes" --duration "$duration" >"$work/attack.out" 2>"$work/attack.err" &
client=$!
pids+=($client)
SECONDS=0
scraped_end=""
printf 't\trss_kib\thwm_kib\tconnections_open\tbuffered_bytes\n' >"$work/samples.tsv"
while kill -0 "$client" 2>/dev/null; do
  t=$SECONDS
  scrape "$work/metrics-now.txt"
  printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$(status_kib VmRSS)" "$(status_kib VmHWM)" \
    "$(metric hookgate_connections_open "$work/metrics-now.txt")" \
    "$(metric hookgate_buffered_bytes "$work/metrics-now.txt")" >>"$work/samples.tsv"
  # The end of the attack: just before the client's deadline, everything
  # it holds still open.
  if [ -z "$scraped_end" ] && [ "$t" -ge $((duration - 2)) ]; then
    cp "$work/metrics-now.txt" "$work/metrics-end.txt"
    end_rss=$(status_kib VmRSS)
    scraped_end=1
  fi
  sleep 1
done
wait "$client" || { echo "flood: the client failed" >&2; cat "$work/attack.err" >&2; exit 1; }
if [ -z "$scraped_end" ]; then
  cp "$work/metrics-now.txt" "$work/metrics-end.txt"
  end_rss=$(status_kib VmRSS)
fi
hwm=$(status_kib VmHWM)
sleep 3
after_rss=$(status_kib VmRSS)
scrape "$work/metrics-after.txt"
kill -0 "$gw" 2>/dev/null || { echo "flood: the gateway exited" >&2; cat "$work/hookgate.log" >&2; exit 1; }

cat "$work/baseline.out" "$work/attack.out"
export work idle_rss baseline_rss end_rss after_rss hwm budget constant_mib max_connections \
  idle slow body_bytes duration baseline load_before
python3 - <<'PY' >"$work/result.md"
import os, re, subprocess, time

env = os.environ
w = env["work"]
def kv(path):
    text = open(path).read()
    return dict(re.findall(r"(\w+)=(\S+)", text))
def metrics(path):
    out = {}
    for line in open(path):
        if line.startswith("#") or not line.strip():
            continue
        name, _, value = line.strip().rpartition(" ")
        out[name] = value
    return out
mib = lambda kib: int(kib) / 1024
base = kv(f"{w}/baseline.out")
att = kv(f"{w}/attack.out")
end = metrics(f"{w}/metrics-end.txt")
after = metrics(f"{w}/metrics-after.txt")
rows = [l.rstrip("\n").split("\t") for l in open(f"{w}/samples.tsv")][1:]
rows = [r for r in rows if len(r) == 5 and all(r[1:3])]
max_rss = max([int(r[1]) for r in rows] + [int(env["end_rss"])])
hwm = int(env["hwm"])
peak = max(max_rss, hwm)
budget = int(env["budget"])
# The documented bound (README, "Memory under attack"): the process's own
# constant, a per-connection constant at the cap, and the buffered bodies
# with the allocator's slack on them.
limit_kib = int(env["constant_mib"]) * 1024 + 16 * int(env["max_connections"]) + int(1.2 * budget / 1024)
num = lambda s: int(float(s)) if s else 0
max_conns = max([num(r[3]) for r in rows] or [0])
max_buf = max([num(r[4]) for r in rows] or [0])
g = lambda m, k: m.get(k, "?")
# Valid deliveries: every one sent once the attack's connections were all
# open is served; those caught in the opening burst are reported apart.
window = att.get("valid_not_200_window_s", "-")
burst_end = float(att.get("attack_opened_at_s", 0) or 0)
valid_ok = att["valid_200"] == att["valid_sent"] or (
    window != "-" and float(str(window).split("-")[-1]) <= burst_end)
healthz_ok = att["healthz_ok"] == att["healthz_sent"]
rss_ok = peak <= limit_kib
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
ram = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) / 1024 / 1024
cores = os.cpu_count()
print("# Flood: slowloris and slow bodies against the webhook listener")
print()
print(f"machine: {cores} cores, {cpu}, {ram:.0f} GiB RAM; load average before the attack {env['load_before']} (shared machine)")
print(f"date: {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}  command: `scripts/flood.sh` "
      f"(FLOOD_IDLE={env['idle']} FLOOD_SLOW_BODIES={env['slow']} FLOOD_BODY_BYTES={env['body_bytes']} "
      f"FLOOD_DURATION={env['duration']} FLOOD_BASELINE={env['baseline']})")
print()
print(f"gateway: release build, threads = 2, max_connections = {env['max_connections']}, "
      f"max_buffered_bytes = {budget // 1048576} MiB, max_body_bytes = 1 MiB, request_timeout = 60s, "
      "one Nixflex route (forward = normalized, dedup in memory) to docker/demo_receiver.py. "
      f"Attack: {env['idle']} idle connections (half silent, half a partial head), opened first, then, 1.5 s later "
      "(past the gateway's eviction grace for silent connections, so the bodies get in and meet the body budget), "
      f"{env['slow']} fake-signed bodies declaring {env['body_bytes']} bytes with all but the last byte sent; "
      "nothing reopened. Throughout: one valid signed delivery every 50 ms and GET /healthz every 200 ms, "
      "each on a fresh connection.")
print()
print(f"**Result: {'PASS' if rss_ok and valid_ok and healthz_ok else 'FAIL'}** "
      f"(peak RSS {'≤' if rss_ok else '>'} {env['constant_mib']} MiB + 16 KiB × max_connections + 1.2 × budget = {limit_kib / 1024:.0f} MiB; "
      f"valid requests {'all' if valid_ok else 'NOT all'} served once the attack was open; health checks {'all' if healthz_ok else 'NOT all'} answered)")
print()
print("| figure | value |")
print("|---|---|")
print(f"| budget (max_buffered_bytes) | {budget / 1048576:.0f} MiB |")
print(f"| idle RSS (started, no traffic) | {mib(env['idle_rss']):.1f} MiB |")
print(f"| RSS after the baseline | {mib(env['baseline_rss']):.1f} MiB |")
print(f"| **peak RSS** (VmHWM; max sampled VmRSS {mib(max_rss):.1f} MiB) | **{mib(peak):.1f} MiB** (budget {mib(peak) - budget / 1048576:+.1f} MiB; idle {mib(peak) - mib(env['idle_rss']):+.1f} MiB) |")
print(f"| RSS at the end of the attack | {mib(env['end_rss']):.1f} MiB |")
print(f"| RSS 3 s after the attack closed | {mib(env['after_rss']):.1f} MiB |")
print(f"| buffered bytes: at the end / max sampled | {num(g(end, 'hookgate_buffered_bytes')) / 1048576:.1f} MiB / {max_buf / 1048576:.1f} MiB |")
print(f"| connections held by the gateway: at the end / max sampled | {g(end, 'hookgate_connections_open')} / {max_conns} |")
print(f"| connections refused (hookgate_connections_refused_total) | {g(end, 'hookgate_connections_refused_total')} |")
print(f"| connections evicted (hookgate_connections_evicted_total) | {g(end, 'hookgate_connections_evicted_total')} |")
print(f"| bodies refused over budget (hookgate_over_budget_total) | {g(end, 'hookgate_over_budget_total')} |")
print(f"| client: idle opened / still open at the end (failed to connect) | {att['idle_opened']} / {att['idle_still_open_at_end']} ({att['idle_failed']}); opened in {att['idle_open_secs']} s |")
print(f"| client: slow bodies opened / fully sent / answered 503 / other answer / closed unanswered / still open | "
      f"{att['slow_opened']} / {att['slow_fully_sent']} / {att['slow_answered_503']} / {att['slow_answered_other']} / "
      f"{att['slow_closed_unanswered']} / {att['slow_still_open_at_end']} |")
print(f"| client: slow bodies closed unanswered, between | {att['slow_unanswered_window_s']} s after the start (all attack connections opened at {att['attack_opened_at_s']} s) |")
print(f"| **valid served** (200 / sent) | **{att['valid_200']} / {att['valid_sent']}** |")
print(f"| valid not served: other status [statuses]; no answer: connect failed / closed unanswered / timed out (10 s) | "
      f"{att['valid_other']} [{att['valid_other_statuses']}]; {att['valid_failed_connect']} / {att['valid_failed_closed']} / {att['valid_failed_timeout']}; "
      f"sent between {att['valid_not_200_window_s']} s after the start |")
print(f"| valid latency p50 / p99 / max (baseline p50 / p99) | {att['valid_p50_ms']} / {att['valid_p99_ms']} / {att['valid_max_ms']} ms ({base['valid_p50_ms']} / {base['valid_p99_ms']} ms) |")
print(f"| valid p99, sent from 2 s after the attack was all open | {att['valid_steady_p99_ms']} ms |")
print(f"| **healthz** ok / sent (p99) | **{att['healthz_ok']} / {att['healthz_sent']}** ({att['healthz_p99_ms']} ms) |")
print(f"| after the attack: connections held, buffered | {g(after, 'hookgate_connections_open')}, {num(g(after, 'hookgate_buffered_bytes'))} bytes |")
outcomes = [(k[len("hookgate_requests_total"):], v) for k, v in end.items()
            if k.startswith("hookgate_requests_total") and v not in ("0", "?")]
print()
print("Gateway answers at the end of the attack (hookgate_requests_total, non-zero, baseline included):")
print()
for k, v in outcomes:
    print(f"- `{k}` {v}")
print()
print("Every 5 s of the attack (gateway side):")
print()
print("| t (s) | VmRSS (MiB) | VmHWM (MiB) | connections open | buffered (MiB) |")
print("|---|---|---|---|---|")
for r in rows:
    if int(r[0]) % 5 == 0 or r is rows[-1]:
        print(f"| {r[0]} | {mib(r[1]):.1f} | {mib(r[2]):.1f} | {r[3] or '?'} | {num(r[4]) / 1048576:.1f} |")
print()
print("Client summary lines (benches/flood.rs):")
print()
print("```")
print("baseline: " + open(f"{w}/baseline.out").read().strip())
print("attack:   " + open(f"{w}/attack.out").read().strip())
print("```")
PY
mkdir -p bench-results
cp "$work/result.md" bench-results/flood.md
cat bench-results/flood.md
grep -q '^\*\*Result: PASS' bench-results/flood.md
