#!/usr/bin/env bash
# Installs nginx (Debian's nginx-light) if missing, for `nginx -t` and for the
# replica tests (crates/flotilla/tests/replicas), which start it themselves as
# an unprivileged configuration: the package must never start its daemon
# (a policy-rc.d that refuses, when none is there). Prints nginx's path.
set -euo pipefail
if ! command -v nginx >/dev/null 2>&1 && [[ ! -x /usr/sbin/nginx ]]; then
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [[ ! -e "$policy" ]]; then printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && own_policy=1; fi
  apt-get install -y -q nginx-light >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q nginx-light >/dev/null; }
  if [[ "$own_policy" == 1 ]]; then rm -f "$policy"; fi
fi
nginx_bin="$(command -v nginx || echo /usr/sbin/nginx)"
[[ -x "$nginx_bin" ]] || { echo "nginx could not be installed" >&2; exit 1; }
echo "$nginx_bin"
