#!/usr/bin/env bash
# Validates the deployment files offline: the Dockerfile with hadolint, the
# Kubernetes manifests against the API's schemas (kubernetes-validate, strict),
# the compose file against the compose specification (check-jsonschema), the
# nginx configuration with `nginx -t`, and the cross-checks of
# check_deploy.py (variables flotilla reads, its commands, selectors, probes).
# Each validator is first shown a broken file and must refuse it, so a
# validator that accepts anything fails this script.
#
#   tests/deploy/validate.sh [FLOTILLA_BIN]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venvs/deploy"
bin="${1:-}"
[[ -n "$bin" && -x "$bin" ]] || bin=""
kube_version=1.31.0

if [[ ! -x "$venv/bin/kubernetes-validate" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/tests/deploy/requirements.txt"
fi
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  # Only the binary is wanted: keep the package from starting a daemon.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1; fi
  apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null; }
  if [[ "$own_policy" == 1 ]]; then rm -f "$policy"; fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x "$nginx_bin" ]] || { echo "nginx could not be installed: nginx -t cannot run" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# nginx -t resolves upstream host names: test a copy that names loopback.
nginx_test() {
  sed -E 's/server +[A-Za-z0-9_-]+:([0-9]+)/server 127.0.0.1:\1/' "$1" > "$scratch/nginx.conf"
  "$nginx_bin" -t -q -c "$scratch/nginx.conf" -g "pid $scratch/nginx.pid; error_log stderr;" 2>&1
}

must_refuse() {  # what, command...
  local what="$1"; shift
  if "$@" >/dev/null 2>&1; then echo "validator accepted a broken $what" >&2; exit 1; fi
}
sed 's/replicas: 1/replicas: one/' "$root/deploy/kubernetes/single-node.yaml" > "$scratch/broken.yaml"
must_refuse "manifest" "$venv/bin/kubernetes-validate" --strict -k "$kube_version" --quiet "$scratch/broken.yaml"
printf 'services:\n  x:\n    image: 1\n    ports: {a: b}\n' > "$scratch/compose.yaml"
must_refuse "compose file" "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$scratch/compose.yaml"
printf 'FROM debian\nRUN cd /tmp && apt-get install curl\n' > "$scratch/Dockerfile"
must_refuse "Dockerfile" "$venv/bin/hadolint" "$scratch/Dockerfile"
printf 'events {}\nhttp { upstream u { hash; } }\n' > "$scratch/bad-nginx.conf"
must_refuse "nginx configuration" nginx_test "$scratch/bad-nginx.conf"

"$venv/bin/hadolint" "$root/Dockerfile"
echo "Dockerfile: hadolint passed"
for manifest in "$root"/deploy/kubernetes/*.yaml; do
  "$venv/bin/kubernetes-validate" --strict -k "$kube_version" --quiet "$manifest"
  echo "$(basename "$manifest"): valid for Kubernetes $kube_version"
done
if [[ -f "$root/deploy/compose/compose.yaml" ]]; then
  "$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$root/deploy/compose/compose.yaml"
  nginx_test "$root/deploy/compose/nginx.conf"
  echo "nginx.conf: nginx -t passed"
fi
"$venv/bin/python" "$root/tests/deploy/check_deploy.py" "$root" $bin
