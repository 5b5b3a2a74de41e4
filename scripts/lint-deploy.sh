#!/usr/bin/env bash
# Checks docker/ and docker/k8s/ against the hookgate binary without a
# Docker engine: the configs validate, and ports, probes, signals, commands
# and secret names agree with what the binary and its config expect; the
# build context (.dockerignore), the dependency layer, image tags, memory
# sizes, the docker run examples, README.md's "Running it" and the demo
# receiver's one-write answers are checked too, and so is the managed-Redis
# overlay (docker/k8s/managed-redis: TLS, an ACL password from the Secret).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${HOOKGATE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --quiet --bin hookgate
  bin=target/debug/hookgate
fi
python3 -c 'import yaml' 2>/dev/null || pip install --quiet pyyaml
python3 -c 'import tomllib' 2>/dev/null || python3 -c 'import tomli' 2>/dev/null || pip install --quiet tomli
exec python3 - "$bin" <<'PY'
import os, posixpath, re, shlex, shutil, socket, statistics, subprocess, sys, tempfile, time, yaml

bin_path = sys.argv[1]
problems = []
def expect(cond, what):
    if not cond:
        problems.append(what)

try:
    import tomllib
except ImportError:  # Python < 3.11
    import tomli as tomllib

def env_names(toml_text):
    """The ${NAME}s a configuration reads (values only, not comments): a
    whole value, or a Redis URL's password part."""
    names = set()
    def walk(v):
        if isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            names.update(re.findall(r"\$\{([A-Za-z0-9_]+)\}", v))
    walk(tomllib.loads(toml_text))
    return sorted(names)

def read_env_file(path):
    """NAME=value lines as docker --env-file and kubectl --from-env-file read them."""
    env = {}
    for n, line in enumerate(open(path).read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = re.fullmatch(r"([A-Z][A-Z0-9_]*)=(\S*)", line)
        expect(m and not m.group(2).startswith(('"', "'")), f"{path}:{n}: expected NAME=value (no quotes, spaces or export)")
        if m:
            env[m.group(1)] = m.group(2)
    return env

# Upstream host names that resolve only where the files deploy: compose's
# receiver service, and the Docker host as the baked image configuration
# names it (docker run --add-host host.docker.internal:host-gateway).
CONTAINER_HOSTS = ("receiver", "host.docker.internal")

def check_config(text, label, env=None):
    names = env_names(text)
    if env is None:
        env = {n: ("whsec_ZHVtbXkta2V5LWR1bW15LWtleQ==" if n in ("AGNTIX_WEBHOOK_SECRET", "ALLO_WEBHOOK_SECRET")
                   else "redis://127.0.0.1:6379/0" if n == "HOOKGATE_REDIS_URL" else "dummy") for n in names}
    # ...are checked here as 127.0.0.1.
    hosts = "|".join(re.escape(h) for h in CONTAINER_HOSTS)
    text = re.sub(rf'(url|upstream)(\s*=\s*"https?://)({hosts})([:/"])', r"\g<1>\g<2>127.0.0.1\g<4>", text)
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    out = subprocess.run([bin_path, "check", "--config", f.name], env={**env, "PATH": os.environ["PATH"]},
                         capture_output=True, text=True)
    os.unlink(f.name)
    expect(out.returncode == 0, f"{label}: hookgate check failed: {out.stderr.strip()}")
    return names

# Memory sizing (docker/README.md, "Memory"): 16 MiB idle + 318 B per
# remembered key (BENCHMARKS.md) + the request bodies buffered at once must
# stay within 3/4 of the memory limit.
MiB = 1024 * 1024
def memory_quantity(q):
    m = re.fullmatch(r"(\d+)([KMG]i?|[kmg])?", str(q))
    unit = {None: 1, "K": 1000, "M": 1000**2, "G": 1000**3, "Ki": 1024, "Mi": MiB, "Gi": 1024 * MiB,
            "k": 1024, "m": MiB, "g": 1024 * MiB}  # k/m/g: docker --memory (binary units)
    return int(m.group(1)) * unit[m.group(2)] if m else None

def check_memory(config_text, limit, label):
    cfg = tomllib.loads(config_text)
    server, dedup = cfg.get("server", {}), cfg.get("dedup", {})
    if dedup.get("backend", "memory") != "memory":
        return
    for key in ("max_buffered_bytes", "max_connections"):
        expect(key in server, f"{label}: set server.{key} explicitly (the memory budget depends on it)")
    bodies = server.get("max_buffered_bytes", 256 * MiB)
    need = 16 * MiB + 318 * dedup.get("max_entries", 1_000_000) + bodies
    expect(limit is not None, f"{label}: no memory limit (docker run --memory, resources.limits.memory); the dedup cache needs {need / MiB:.0f} MiB")
    expect(limit is None or need <= 0.75 * limit,
           f"{label}: 16 MiB + 318 B x max_entries + {bodies // MiB} MiB of bodies = {need / MiB:.0f} MiB, more than 3/4 of the memory limit ({limit and limit // MiB} MiB)")

# Dockerfile
docker = open("docker/Dockerfile").read()
expect("STOPSIGNAL SIGTERM" in docker, "Dockerfile: STOPSIGNAL SIGTERM missing")
expect(re.search(r"EXPOSE 8080 9090", docker), "Dockerfile: EXPOSE 8080 9090 missing")
expect('"healthcheck", "--url", "http://127.0.0.1:9090/healthz"' in docker, "Dockerfile: HEALTHCHECK must use hookgate healthcheck on the admin port")
expect(re.search(r"^USER (?!0|root)", docker, re.M), "Dockerfile: must run as non-root")
expect('CMD ["run", "--config", "/etc/hookgate/config.toml"]' in docker, "Dockerfile: CMD must run the config at /etc/hookgate/config.toml")

def dockerfile_instructions(text):
    """(KEYWORD, arguments) per instruction: continuations joined, comments dropped."""
    out, cur = [], ""
    for raw in text.splitlines():
        if raw.strip().startswith("#") or (not cur and not raw.strip()):
            continue
        if raw.rstrip().endswith("\\"):
            cur += raw.rstrip()[:-1] + " "
            continue
        cur += raw
        kw, _, rest = cur.strip().partition(" ")
        out.append((kw.upper(), rest.strip()))
        cur = ""
    return out

def copy_sources(args):
    """The sources of a COPY from the build context; None for COPY --from."""
    if args.startswith("["):
        import json
        words = json.loads(args)
    else:
        words = args.split()
    if any(w.startswith("--from") for w in words):
        return None
    words = [w for w in words if not w.startswith("--")]
    return words[:-1]

instructions = dockerfile_instructions(docker)
stages, stage = [], None
for kw, args in instructions:
    if kw == "FROM":
        stage = {"from": args, "instructions": []}
        stages.append(stage)
    elif stage is not None:
        stage["instructions"].append((kw, args))
expect(len(stages) == 2 and stages[0]["from"].endswith(" AS build"), "Dockerfile: two stages expected, the first `AS build`")
build, runtime = stages[0]["instructions"], stages[-1]["instructions"]
build_copies = [src for kw, a in build if kw == "COPY" for src in (copy_sources(a) or [])]
for path in ["Cargo.toml", "Cargo.lock", "src", "benches"]:
    expect(path in build_copies, f"Dockerfile: the build stage does not copy {path}, which the build needs")

# Dependencies cached in their own layer: before the first cargo build only
# the manifests are copied, the stub's artifacts are removed after it (or the
# stub binary would ship: COPY keeps the sources' older mtimes, and cargo
# would call the stub fresh), and the real sources come after it.
cargo_runs = [i for i, (kw, a) in enumerate(build) if kw == "RUN" and "cargo build" in a]
expect(len(cargo_runs) >= 2, "Dockerfile: a dependency build against stub sources, then the real build, expected")
for i in cargo_runs:
    expect("--locked" in build[i][1], "Dockerfile: every cargo build must be --locked")
if len(cargo_runs) >= 2:
    first, last = cargo_runs[0], cargo_runs[-1]
    before = [src for kw, a in build[:first] if kw == "COPY" for src in (copy_sources(a) or [])]
    expect(sorted(before) == ["Cargo.lock", "Cargo.toml"], f"Dockerfile: only Cargo.toml and Cargo.lock may be copied before the dependency build (found {before})")
    expect("target/release/.fingerprint/hookgate-*" in build[first][1], "Dockerfile: the dependency build must remove the stub's fingerprints (target/release/.fingerprint/hookgate-*)")
    after = [src for kw, a in build[first:last] if kw == "COPY" for src in (copy_sources(a) or [])]
    expect("src" in after, "Dockerfile: the real sources must be copied after the dependency build")
    # The stub sources satisfy the manifest: run the stub RUNs on a copy of
    # the manifests and let cargo parse it (it refuses missing [[bench]] files).
    with tempfile.TemporaryDirectory() as stub:
        for f in ["Cargo.toml", "Cargo.lock"]:
            shutil.copy(f, stub)
        for kw, a in build[:first]:
            if kw == "RUN" and "apt-get" not in a:
                subprocess.run(["sh", "-ec", a], cwd=stub, check=True)
        def cargo_parse(*flags):
            return subprocess.run(["cargo", "build", *flags, "--locked", "--bin", "lint-deploy-no-such-bin"], cwd=stub,
                                  env={**os.environ, "CARGO_TARGET_DIR": os.path.join(stub, "target")}, capture_output=True, text=True)
        out = cargo_parse("--offline")
        if "no bin target named" not in out.stderr and "failed to parse manifest" not in out.stderr:
            out = cargo_parse()  # the registry cache lacked something: resolve online
        expect("no bin target named" in out.stderr, f"Dockerfile: cargo does not accept the stub sources: {out.stderr.strip()[-400:]}")
expect(re.search(r"distroless/.*:nonroot$", stages[-1]["from"]), "Dockerfile: the runtime stage must be distroless :nonroot")
expect(("USER", "65532:65532") in runtime, "Dockerfile: the runtime must run as 65532:65532")
expect(any(kw == "HEALTHCHECK" for kw, _ in runtime), "Dockerfile: HEALTHCHECK missing")

# The build context: .dockerignore keeps every COPY source and leaves out
# target/ (many GB). Patterns are read and matched as Docker does
# (moby/patternmatcher: "**", "!" exceptions, a match on a parent directory
# covers what is inside, the last matching line wins).
def dockerignore(path):
    pats = []
    for line in open(path).read().splitlines():
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        exception = line.startswith("!")
        if exception:
            line = line[1:].strip()
        line = posixpath.normpath(line)
        if len(line) > 1 and line.startswith("/"):
            line = line[1:]
        rx, i = "^", 0
        while i < len(line):
            c = line[i]
            if c == "*" and line[i + 1:i + 2] == "*":
                i += 1
                if line[i + 1:i + 2] == "/":
                    i += 1
                rx += ".*" if i + 1 >= len(line) else "(.*/)?"
            elif c == "*":
                rx += "[^/]*"
            elif c == "?":
                rx += "[^/]"
            elif c == "\\" and i + 1 < len(line):
                i += 1
                rx += re.escape(line[i])
            elif c in "[]":
                rx += c
            else:
                rx += re.escape(c)
            i += 1
        pats.append((exception, re.compile(rx + "$"), line))
    return pats

def ignored(pats, path):
    parts = path.split("/")
    parents = ["/".join(parts[:i + 1]) for i in range(len(parts) - 1)]
    matched = False
    for exception, rx, _ in pats:
        if exception != matched:
            continue
        if rx.match(path) or any(rx.match(p) for p in parents):
            matched = not exception
    return matched

expect(os.path.exists(".dockerignore"), ".dockerignore missing: target/ (many GB) would be the build context")
expect(not os.path.exists("docker/Dockerfile.dockerignore"), "docker/Dockerfile.dockerignore would replace /.dockerignore for this Dockerfile")
if os.path.exists(".dockerignore"):
    pats = dockerignore(".dockerignore")
    for path in ["target", "target/release/hookgate", "fuzz/target/x", ".git", ".git/HEAD", "docs/NORMALIZATION.md", "hookgate.env"]:
        expect(ignored(pats, path), f".dockerignore: {path} must be left out of the build context")
    in_git = shutil.which("git") and subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True).returncode == 0
    tracked = subprocess.run(["git", "ls-files"], capture_output=True, text=True).stdout.split() if in_git else []
    for kw, a in instructions:
        for src in (copy_sources(a) if kw == "COPY" else None) or []:
            src = posixpath.normpath(src)
            expect(os.path.exists(src), f"Dockerfile: COPY source {src} does not exist")
            expect(not ignored(pats, src), f".dockerignore: {src}, which the Dockerfile copies, is ignored")
            inside = [f for f in tracked if f.startswith(src + "/")]
            left_out = [f for f in inside if ignored(pats, f)]
            expect(not left_out, f".dockerignore: files under {src}, which the Dockerfile copies, are ignored: {left_out[:3]}")
    # What a build would send: walk the checkout as Docker does, skipping
    # ignored directories no exception could reach into.
    size = context_size = 0
    for root, dirs, files in os.walk("."):
        rel = posixpath.normpath(root)
        for d in list(dirs):
            dpath = posixpath.normpath(posixpath.join(rel, d))
            if ignored(pats, dpath) and not any(exc and ((pat + "/").startswith(dpath + "/") or re.search(r"[*?\[]", pat))
                                                for exc, _, pat in pats):
                dirs.remove(d)
        for f in files:
            fpath = posixpath.normpath(posixpath.join(rel, f))
            if not ignored(pats, fpath):
                size += os.path.getsize(os.path.join(root, f))
    context_size = size
    expect(size < 20 * 1024 * 1024, f".dockerignore: the build context would be {size / 1048576:.0f} MiB")

# The baked configuration is meant for containers, and docker/README.md's
# `docker run` lines run it as it needs: with the Docker host's name when
# the upstream is host.docker.internal, the webhook port published, every
# ${NAME} passed, and a configuration mounted only as a directory.
docker_readme = open("docker/README.md").read()
expect("COPY docker/config.image.toml /etc/hookgate/config.toml" in docker,
       "Dockerfile: bake docker/config.image.toml (a configuration for containers) at /etc/hookgate/config.toml")
image_config = open("docker/config.image.toml").read()
image_names = check_config(image_config, "docker/config.image.toml")
image_toml = tomllib.loads(image_config)
expect(image_toml["server"]["listen"] == "0.0.0.0:8080", "docker/config.image.toml: listen must be 0.0.0.0:8080 (EXPOSE 8080)")
expect(image_toml["server"].get("admin_listen") in ("0.0.0.0:9090", "127.0.0.1:9090"), "docker/config.image.toml: admin_listen must be on port 9090 (the HEALTHCHECK's)")
image_upstream_host = re.match(r"https?://([^:/]+)", image_toml["upstream"]["url"]).group(1)
expect(image_upstream_host not in ("127.0.0.1", "localhost", "::1"), "docker/config.image.toml: an upstream on the container's own loopback answers 502 to everything")

def sh_blocks(markdown):
    """Commands of the ```sh blocks, continuation lines joined."""
    cmds = []
    for block in re.findall(r"```sh\n(.*?)```", markdown, re.S):
        for cmd in re.sub(r"\\\n\s*", " ", block).splitlines():
            cmd = cmd.strip()
            if cmd and not cmd.startswith("#"):
                cmds.append(cmd)
    return cmds

runs = [shlex.split(c, comments=True) for c in sh_blocks(docker_readme) if c.startswith("docker run ")]
expect(runs, "docker/README.md: a docker run example expected")
for argv in runs:
    text = " ".join(argv)
    mounts = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a in ("-v", "--volume")]
    for m in mounts:
        expect(m.split(":")[1] == "/etc/hookgate", f"docker/README.md: mount a configuration directory at /etc/hookgate, not {m!r} ({text})")
    baked = not any(m.split(":")[1].startswith("/etc/hookgate") for m in mounts)
    if baked and image_upstream_host == "host.docker.internal":
        expect("--add-host host.docker.internal:host-gateway" in text or "--add-host=host.docker.internal:host-gateway" in text,
               f"docker/README.md: the baked upstream is host.docker.internal; docker run needs --add-host host.docker.internal:host-gateway ({text})")
    if baked:
        passed = set(a.split("=")[0] for i, a in enumerate(argv) if i and argv[i - 1] in ("-e", "--env"))
        if "--env-file" in argv:
            expect(argv[argv.index("--env-file") + 1] == "hookgate.env", f"docker/README.md: --env-file hookgate.env expected ({text})")
            passed |= set(read_env_file("docker/hookgate.env.example"))
        expect(set(image_names) <= passed, f"docker/README.md: docker run does not pass {sorted(set(image_names) - passed)} ({text})")
    if "check" not in argv:
        expect("8080:8080" in text, f"docker/README.md: docker run must publish 8080 ({text})")
    if baked:
        limit = memory_quantity(argv[argv.index("--memory") + 1]) if "--memory" in argv else None
        check_memory(image_config, limit, f"docker/config.image.toml under `{text}`")

# The binary's flags the files rely on.
help_out = subprocess.run([bin_path, "healthcheck", "--help"], capture_output=True, text=True).stdout
expect("--url" in help_out, "hookgate healthcheck --url is not a flag of the binary")
run_help = subprocess.run([bin_path, "run", "--help"], capture_output=True, text=True).stdout
expect("--config" in run_help, "hookgate run --config is not a flag of the binary")

# Compose
compose = yaml.safe_load(open("docker/compose.yaml"))
services = compose["services"]
expect(set(services) >= {"hookgate", "receiver", "redis"}, "compose: services hookgate, receiver and redis expected")
hg = services["hookgate"]
# The configuration is mounted as a directory: a single-file bind mount
# misses edits saved by rename, so reloads would never happen.
config_mounts = [v for v in hg.get("volumes", []) if v.split(":")[1].startswith("/etc/hookgate")]
expect(len(config_mounts) == 1 and config_mounts[0].split(":")[1] == "/etc/hookgate",
       f"compose: mount a directory at /etc/hookgate (a single-file mount misses edits saved by rename), not {config_mounts}")
mounted = os.path.normpath(os.path.join("docker", config_mounts[0].split(":")[0])) if config_mounts else "docker/compose-config"
compose_config_path = os.path.join(mounted, "config.toml") if os.path.isdir(mounted) else mounted
expect(os.path.isfile(compose_config_path), f"compose: {mounted} must be a directory holding config.toml")
expect(hg.get("command") == ["run", "--config", "/etc/hookgate/config.toml"], "compose: hookgate must run /etc/hookgate/config.toml")
compose_config = open(compose_config_path).read()
names = check_config(compose_config, compose_config_path)
expect(set(names) <= set(hg.get("environment", {})), f"compose: hookgate environment lacks {sorted(set(names) - set(hg.get('environment', {})))}")
expect(hg.get("stop_signal") == "SIGTERM", "compose: stop_signal SIGTERM expected")
expect("8080:8080" in hg.get("ports", []), "compose: webhook port 8080 not published")
expect("hookgate" in " ".join(hg["healthcheck"]["test"]) and "healthcheck" in hg["healthcheck"]["test"], "compose: healthcheck must use hookgate healthcheck")
expect('listen = "0.0.0.0:8080"' in compose_config and 'admin_listen = "0.0.0.0:9090"' in compose_config, "compose config: listeners must be 0.0.0.0:8080 / :9090")
expect("http://receiver:3000" in compose_config, "compose config: upstream must be the receiver service")
expect(any("demo_receiver.py" in v for v in services["receiver"].get("volumes", [])), "compose: the demo receiver script is not mounted")

# The secrets file: docker/hookgate.env.example lists every ${NAME} the
# deployment configurations read, with placeholders only, and the filled-in
# copy (hookgate.env) is never committed.
env_example = read_env_file("docker/hookgate.env.example")
for name, value in env_example.items():
    expect("REPLACE_ME" in value, f"docker/hookgate.env.example: {name} must be a REPLACE_ME placeholder, not a real-looking secret")
expect("cp docker/hookgate.env.example hookgate.env" in docker_readme, "docker/README.md: must say to create hookgate.env from docker/hookgate.env.example")
if shutil.which("git") and subprocess.run(["git", "rev-parse", "--git-dir"], capture_output=True).returncode == 0:
    expect(subprocess.run(["git", "check-ignore", "-q", "hookgate.env"]).returncode == 0, ".gitignore: hookgate.env (real secrets) must be ignored")

# Kubernetes
docs = {}
for name in ["configmap.yaml", "deployment.yaml", "service.yaml", "secret.example.yaml", "kustomization.yaml"]:
    docs[name] = yaml.safe_load(open(f"docker/k8s/{name}"))
cm_config = docs["configmap.yaml"]["data"]["config.toml"]
names = check_config(cm_config, "k8s configmap config.toml")
secret_keys = set(docs["secret.example.yaml"]["stringData"])
expect(set(names) <= secret_keys, f"k8s: Secret lacks {sorted(set(names) - secret_keys)}")
expect(set(names) <= set(env_example), f"docker/hookgate.env.example lacks {sorted(set(names) - set(env_example))} (the k8s config reads them)")
expect(docs["secret.example.yaml"]["stringData"] == env_example, "k8s/secret.example.yaml must hold the same names and placeholders as docker/hookgate.env.example")
pod = docs["deployment.yaml"]["spec"]["template"]["spec"]
expect(pod.get("terminationGracePeriodSeconds", 30) >= 10, "k8s: terminationGracePeriodSeconds must cover the 8 s drain")
hgc = [c for c in pod["containers"] if c["name"] == "hookgate"][0]
ports = {p["name"]: p["containerPort"] for p in hgc["ports"]}
expect(ports.get("webhooks") == 8080 and ports.get("admin") == 9090, "k8s: container ports must be webhooks 8080, admin 9090")
expect('listen = "0.0.0.0:8080"' in cm_config and 'admin_listen = "0.0.0.0:9090"' in cm_config, "k8s config: listeners must match the container ports")
expect(hgc["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "admin"}, "k8s: liveness must be /healthz on admin")
expect(hgc["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "admin"}, "k8s: readiness must be /readyz on admin")
expect(hgc["args"] == ["run", "--config", "/etc/hookgate/config.toml"], "k8s: args must run /etc/hookgate/config.toml")
check_memory(cm_config, memory_quantity(hgc.get("resources", {}).get("limits", {}).get("memory")), "k8s: configmap vs the hookgate container's memory limit")
mounts = {m["name"]: m for m in hgc["volumeMounts"]}
expect(mounts["config"]["mountPath"] == "/etc/hookgate" and "subPath" not in mounts["config"], "k8s: mount the ConfigMap as a directory (no subPath) so reloads are seen")
expect(hgc["securityContext"].get("runAsNonRoot") and hgc["securityContext"].get("readOnlyRootFilesystem"), "k8s: non-root, read-only root fs expected")
expect("127.0.0.1:3000" in cm_config and any(p.get("containerPort") == 3000 for c in pod["containers"] if c["name"] == "app" for p in c.get("ports", [])), "k8s: upstream must be the app container on 127.0.0.1:3000")
# Images: pinned tags pulled only when missing (":latest" means pull Always),
# hookgate's tag being Cargo.toml's version, as docker/README.md builds it.
version = tomllib.loads(open("Cargo.toml").read())["package"]["version"]
expect(hgc["image"] == f"hookgate:{version}", f"k8s: hookgate image must be hookgate:{version} (Cargo.toml's version), not {hgc['image']}")
for c in pod["containers"]:
    tag = c["image"].rsplit("/", 1)[-1].partition(":")[2]
    expect(tag and tag != "latest", f"k8s: container {c['name']} must use a pinned tag, not {c['image']}")
    expect(c.get("imagePullPolicy") == "IfNotPresent", f"k8s: container {c['name']} needs imagePullPolicy: IfNotPresent")
expect(f"docker build -f docker/Dockerfile -t hookgate:{version} ." in docker_readme, f"docker/README.md: docker build must tag hookgate:{version}, as the Deployment names it")
svc_ports = docs["service.yaml"]["spec"]["ports"]
expect([p["targetPort"] for p in svc_ports] == ["webhooks"], "k8s: the Service must expose only the webhook port")
expect(set(docs["kustomization.yaml"]["resources"]) == {"configmap.yaml", "deployment.yaml", "service.yaml"}, "k8s: kustomization resources")

# The managed-Redis overlay: the base plus two patches; its config validates
# with the Secret's names, on Redis over TLS (rediss://), with several
# replicas sharing it.
overlay = "docker/k8s/managed-redis"
ov = {name: yaml.safe_load(open(f"{overlay}/{name}")) for name in ["kustomization.yaml", "configmap.yaml", "deployment.yaml"]}
expect(ov["kustomization.yaml"].get("resources") == ["../"], f"{overlay}: must build on the base (resources: [../])")
expect(sorted(p["path"] for p in ov["kustomization.yaml"].get("patches", [])) == ["configmap.yaml", "deployment.yaml"], f"{overlay}: patches configmap.yaml and deployment.yaml expected")
expect(ov["configmap.yaml"]["metadata"]["name"] == docs["configmap.yaml"]["metadata"]["name"], f"{overlay}: the ConfigMap patch must name the base ConfigMap")
expect(ov["deployment.yaml"]["metadata"]["name"] == docs["deployment.yaml"]["metadata"]["name"], f"{overlay}: the Deployment patch must name the base Deployment")
ov_config = ov["configmap.yaml"]["data"]["config.toml"]
ov_names = check_config(ov_config, f"{overlay} config.toml")
expect(set(ov_names) <= secret_keys, f"{overlay}: Secret lacks {sorted(set(ov_names) - secret_keys)}")
ov_dedup = tomllib.loads(ov_config)["dedup"]
expect(ov_dedup.get("backend") == "redis" and str(ov_dedup.get("redis_url", "")).startswith("rediss://"), f"{overlay}: dedup must be Redis over TLS (rediss://)")
expect("${" in str(ov_dedup.get("redis_url", "")), f"{overlay}: the Redis password must come from the environment")
expect(ov["deployment.yaml"]["spec"].get("replicas", 1) > 1, f"{overlay}: several replicas expected (that is what Redis is for)")
ov_base_config = re.sub(r"(?s)\[dedup\].*?(?=\n\[)", "", cm_config)
ov_rest = re.sub(r"(?s)\[dedup\].*?(?=\n\[)", "", ov_config)
expect(ov_rest == ov_base_config, f"{overlay}: config.toml must be the base's but for [dedup] (copy the base's changes)")

# README.md's "Running it": its commands run config.example.toml as that
# file needs. Every ${NAME} is
# exported, with scripts/demo.sh's demo values, and validates; a receiver is
# started on the upstream address; `send` targets a route on the listener
# with flags the binary has.
readme = open("README.md").read()
running = re.search(r"^## Running it\n(.*?)(?=^## )", readme, re.S | re.M)
expect(running, "README.md: a '## Running it' section expected")
draft = running.group(1) if running else ""
draft_cmds = sh_blocks(draft)
exports = {}
for c in draft_cmds:
    m = re.fullmatch(r"export ([A-Z][A-Z0-9_]*)=(\S+)", c)
    if m:
        exports[m.group(1)] = m.group(2)
example = open("config.example.toml").read()
example_toml = tomllib.loads(example)
example_names = env_names(example)
expect(set(example_names) <= set(exports), f"README.md (Running it): does not export {sorted(set(example_names) - set(exports))}, which config.example.toml reads")
demo_exports = dict(re.findall(r"^export ([A-Z][A-Z0-9_]*)=(\S+)$", open("scripts/demo.sh").read(), re.M))
for name, value in exports.items():
    expect(demo_exports.get(name) == value, f"README.md (Running it): {name} differs from scripts/demo.sh's demo value")
check_config(example, "config.example.toml with only README's exports", env=exports)
upstream_addr = re.match(r"https?://([^/]+)", example_toml["upstream"]["url"]).group(1)
expect(any(c.startswith(f"python3 docker/demo_receiver.py --listen {upstream_addr}") for c in draft_cmds),
       f"README.md (Running it): must start docker/demo_receiver.py on the upstream address {upstream_addr}")
for sub in ("check", "run"):
    expect(any(re.search(rf"hookgate {sub} --config config.example.toml", c) for c in draft_cmds), f"README.md (Running it): `hookgate {sub} --config config.example.toml` missing")
send_help = subprocess.run([bin_path, "send", "--help"], capture_output=True, text=True).stdout
listen_port = example_toml["server"]["listen"].rsplit(":", 1)[1]
route_paths = {r["path"] for r in example_toml.get("route", [])}
sends = [shlex.split(c) for c in draft_cmds if re.search(r"hookgate send ", c)]
expect(sends, "README.md (Running it): a `hookgate send` example expected")
for argv in sends:
    for flag in (a.split("=")[0] for a in argv if a.startswith("--")):
        expect(flag in send_help, f"README.md (Running it): hookgate send has no {flag}")
    to = argv[argv.index("--to") + 1] if "--to" in argv else ""
    m = re.fullmatch(r"http://127\.0\.0\.1:(\d+)(/\S*)", to)
    expect(m and m.group(1) == listen_port and m.group(2) in route_paths, f"README.md (Running it): send --to {to!r} is not a route of config.example.toml on its listener")

# The demo receiver answers in one write: a response in two sends (header,
# then body) waits for the ACK of the first, which the gateway delays by up to
# 40 ms. Over 30 requests on one keep-alive connection, the first recv() must
# hold the whole response, and the median round trip stay under 20 ms.
def receiver_round_trips(script):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    proc = subprocess.Popen([sys.executable, script, "--listen", f"127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                conn = socket.create_connection(("127.0.0.1", port), timeout=2)
                break
            except OSError:
                time.sleep(0.05)
        else:
            return None
        body = b'{"event":"call.ended","call_id":"lint"}'
        req = b"POST /calls HTTP/1.1\r\nHost: receiver\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        times, split = [], 0
        with conn:
            for _ in range(30):
                t0 = time.perf_counter()
                conn.sendall(req)
                got = conn.recv(65536)
                times.append(time.perf_counter() - t0)
                head, _, rest = got.partition(b"\r\n\r\n")
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                want = int(m.group(1)) if m else 0
                if not m or len(rest) < want:
                    split += 1
                while m and len(rest) < want:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    rest += chunk
            # README.md (Running it) waits on it with `hookgate healthcheck` (a GET, 2xx).
            conn.sendall(b"GET / HTTP/1.1\r\nHost: receiver\r\n\r\n")
            get_ok = conn.recv(65536).startswith(b"HTTP/1.1 200 ")
        return split, statistics.median(times), get_ok
    finally:
        proc.terminate()
        proc.wait()

result = receiver_round_trips("docker/demo_receiver.py")
expect(result is not None, "demo_receiver.py: did not accept connections")
if result:
    split, median, get_ok = result
    expect(get_ok, "demo_receiver.py: GET / must answer 200 (README.md (Running it) waits on it)")
    expect(split == 0, f"demo_receiver.py: {split} of 30 responses arrived in pieces (answer with one write)")
    expect(median < 0.020, f"demo_receiver.py: median round trip {median * 1000:.1f} ms (expected under 20 ms)")

if problems:
    print("lint-deploy: problems found:")
    for p in problems:
        print("  -", p)
    sys.exit(1)
print(f"lint-deploy: Dockerfile (build context {context_size / 1024:.0f} KiB), compose.yaml and k8s/ agree with the binary and validate; the demo receiver answers in one write")
PY
