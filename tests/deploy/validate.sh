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
nginx_bin="$("$root/tests/deploy/install-nginx.sh")" || { echo "nginx could not be installed: nginx -t cannot run" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# nginx -t resolves upstream host names: test a copy (with the files it
# includes, from its directory) whose servers name loopback.
nginx_test() {
  rm -rf "$scratch/nginx" && mkdir "$scratch/nginx"
  for f in "$(dirname "$1")"/*.conf; do
    sed -E 's/server +[A-Za-z0-9_-]+:([0-9]+)/server 127.0.0.1:\1/' "$f" > "$scratch/nginx/$(basename "$f")"
  done
  "$nginx_bin" -t -q -c "$scratch/nginx/$(basename "$1")" -g "pid $scratch/nginx.pid; error_log stderr;" 2>&1
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
"$venv/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$root/deploy/compose.yaml"
nginx_test "$root/deploy/nginx/flotilla.conf"
echo "nginx/flotilla.conf: nginx -t passed"
"$venv/bin/python" "$root/tests/deploy/check_deploy.py" "$root" $bin
