# Sourced by the bench scripts: bench_bin NAME prints the path of the
# release benchmark executable NAME (benches/NAME.rs), building it if needed.
bench_bin() {
  cargo bench --locked --bench "$1" --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == sys.argv[1]:
        print(m["executable"])' "$1" | tail -1
}
