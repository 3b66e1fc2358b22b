"""Cross-checks of the deployment files that schema validation cannot see.

Schemas say a manifest is well formed; these checks say it fits flotilla and
itself: every FLOTILLA_* variable is one the code reads, every command the
files run is a flotilla subcommand, selectors select the pods they are meant
for, probes name ports that exist, containers run unprivileged with a memory
limit, nginx sends traffic to services the compose file defines and every
file it includes is mounted, and a replica on PostgreSQL (FLOTILLA_DATABASE_URL)
keeps its artifacts in S3, not on one pod's disk.

    python check_deploy.py REPO_ROOT [FLOTILLA_BIN]
"""

import pathlib
import re
import subprocess
import sys

import yaml

ROOT = pathlib.Path(sys.argv[1]).resolve()
BIN = sys.argv[2] if len(sys.argv) > 2 else None
FLOTILLA_VAR = re.compile(r"\bFLOTILLA_[A-Z0-9_]+\b")
failures: list[str] = []


def fail(where: str, what: str) -> None:
    failures.append(f"{where}: {what}")


def known_variables() -> set[str]:
    """Every FLOTILLA_* name in the Rust sources (clap `env = ...` and `std::env::var` calls)."""
    names: set[str] = set()
    for path in (ROOT / "crates").rglob("*.rs"):
        if "/tests/" in str(path):
            continue
        names.update(FLOTILLA_VAR.findall(path.read_text(encoding="utf-8")))
    return names


KNOWN = known_variables()


def check_variables(where: str, text: str) -> None:
    for name in sorted(set(FLOTILLA_VAR.findall(text))):
        if name not in KNOWN:
            fail(where, f"{name} is not read by flotilla")


def check_command(where: str, args: list[str]) -> None:
    if not BIN:
        return
    run = subprocess.run([BIN, *args, "--help"], capture_output=True, text=True)
    if run.returncode != 0:
        fail(where, f"`flotilla {' '.join(args)}` is not a command: {run.stderr.strip()[:200]}")


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def check_pod(where: str, pod: dict) -> None:
    security = pod.get("securityContext", {})
    if not security.get("runAsNonRoot"):
        fail(where, "pod does not set runAsNonRoot")
    for c in pod["containers"]:
        at = f"{where} container {c['name']}"
        if "memory" not in c.get("resources", {}).get("limits", {}):
            fail(at, "no memory limit")
        if c.get("securityContext", {}).get("allowPrivilegeEscalation") is not False:
            fail(at, "allowPrivilegeEscalation is not false")
        if c.get("image", "").startswith("flotilla"):
            check_command(at, c.get("args", []))
        ports = {p.get("name") for p in c.get("ports", [])}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            port = c.get(probe, {}).get("httpGet", {}).get("port")
            if isinstance(port, str) and port not in ports:
                fail(at, f"{probe} names port {port!r}, not one of {sorted(ports)}")


def check_kubernetes(path: pathlib.Path) -> None:
    where = str(path.relative_to(ROOT))
    check_variables(where, path.read_text(encoding="utf-8"))
    docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    pods = {}
    for d in docs:
        kind, name = d["kind"], d["metadata"]["name"]
        if kind == "Deployment":
            template = d["spec"]["template"]
            if not matches(d["spec"]["selector"]["matchLabels"], template["metadata"]["labels"]):
                fail(where, f"Deployment {name}'s selector does not select its own pods")
            pods[name] = template["metadata"]["labels"]
            check_pod(f"{where} Deployment {name}", template["spec"])
            for c in template["spec"]["containers"]:
                env = {e["name"]: e.get("value", "<secret>") for e in c.get("env", [])}
                check_postgres_replica(f"{where} Deployment {name} container {c['name']}", env)
        elif kind == "Job":
            check_pod(f"{where} Job {name}", d["spec"]["template"]["spec"])
    if not pods:
        fail(where, "no Deployment")
    service_labels = {}
    for d in docs:
        kind, name, spec = d["kind"], d["metadata"]["name"], d.get("spec", {})
        selector = None
        if kind == "Service":
            selector = spec["selector"]
            service_labels[name] = (d["metadata"].get("labels", {}), {p["name"] for p in spec["ports"]})
        elif kind == "PodDisruptionBudget":
            selector = spec["selector"]["matchLabels"]
        if selector is not None and not any(matches(selector, labels) for labels in pods.values()):
            fail(where, f"{kind} {name} selects no pod of this file")
    for d in docs:
        if d["kind"] != "ServiceMonitor":
            continue
        sel = d["spec"]["selector"]["matchLabels"]
        hits = [ports for labels, ports in service_labels.values() if matches(sel, labels)]
        if not hits:
            fail(where, f"ServiceMonitor {d['metadata']['name']} selects no Service")
        for e in d["spec"]["endpoints"]:
            if not any(e["port"] in ports for ports in hits):
                fail(where, f"ServiceMonitor endpoint port {e['port']!r} is no port of the Service")


def check_postgres_replica(where: str, env: dict) -> None:
    """Replicas sharing a PostgreSQL database share one artifact store too."""
    if "FLOTILLA_DATABASE_URL" in env:
        if not str(env.get("FLOTILLA_ARTIFACTS", "")).startswith("s3://"):
            fail(where, "replicas on PostgreSQL keep artifacts on one pod's disk, not in S3 (FLOTILLA_ARTIFACTS)")


def check_compose(path: pathlib.Path) -> None:
    where = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    check_variables(where, text)
    services = yaml.safe_load(text)["services"]
    for name, svc in services.items():
        if svc.get("image", "").startswith("flotilla"):
            if "command" in svc:
                check_command(f"{where} service {name}", svc["command"])
            check_postgres_replica(f"{where} service {name}", svc.get("environment", {}))
    nginx_dir = ROOT / "deploy" / "nginx"
    for conf in sorted(nginx_dir.glob("*.conf")):
        for host in re.findall(r"server\s+([A-Za-z0-9_-]+):\d+", conf.read_text(encoding="utf-8")):
            if host not in services:
                fail(str(conf.relative_to(ROOT)), f"upstream {host} is not a compose service")
    main_conf = nginx_dir / "flotilla.conf"
    mounted = {v.split(":")[0] for svc in services.values() for v in svc.get("volumes", []) if isinstance(v, str)}
    for included in ["flotilla.conf", *re.findall(r"^\s*include\s+([^;\s]+);", main_conf.read_text(encoding="utf-8"), re.M)]:
        if not (nginx_dir / included).exists():
            fail(str(main_conf.relative_to(ROOT)), f"includes {included}, which is not in deploy/nginx")
        if f"./nginx/{included}" not in mounted:
            fail(where, f"nginx's {included} is not mounted into the nginx service")


def check_dockerfile(path: pathlib.Path) -> None:
    where = str(path.relative_to(ROOT))
    text = path.read_text(encoding="utf-8")
    check_variables(where, text)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    if not users or users[-1].split(":")[0] in ("root", "0"):
        fail(where, "the final stage does not run as an unprivileged user")


check_dockerfile(ROOT / "Dockerfile")
for manifest in sorted((ROOT / "deploy" / "kubernetes").glob("*.yaml")):
    check_kubernetes(manifest)
check_compose(ROOT / "deploy" / "compose.yaml")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"deployment files: cross-checks passed ({len(KNOWN)} FLOTILLA_* variables known)")
