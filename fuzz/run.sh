#!/usr/bin/env bash
# Fuzzes one target for a while (after fuzz/build.sh):
#
#   fuzz/run.sh TARGET [SECONDS=600] [extra libFuzzer flags...]
#
# New inputs go to target/fuzz/work/TARGET (the repo's corpus/TARGET and
# regressions/TARGET are read as seeds, never written); a crash, timeout or
# RSS blow-up is written to target/fuzz/artifacts/TARGET/. The log, with
# libFuzzer's final stats (executions), is target/fuzz/logs/TARGET.log.
# NICE (default 15) and RSS_MB (default 1024) adjust the run.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
target="$1"
seconds="${2:-600}"
shift $(( $# >= 2 ? 2 : 1 ))
triple="$(rustc -vV | sed -n 's/^host: //p')"
out="${FUZZ_TARGET_DIR:-$root/target/fuzz}"
bin="$out/$triple/fuzz/$target"
work="$out/work/$target"
artifacts="$out/artifacts/$target"
mkdir -p "$work" "$artifacts" "$out/logs" "$root/fuzz/regressions/$target"
nice -n "${NICE:-15}" "$bin" \
  -max_total_time="$seconds" -timeout=10 -rss_limit_mb="${RSS_MB:-1024}" -max_len=16384 \
  -artifact_prefix="$artifacts/" -print_final_stats=1 "$@" \
  "$work" "$root/fuzz/corpus/$target" "$root/fuzz/regressions/$target" \
  2>&1 | tee "$out/logs/$target.log" | grep -E "^(#[0-9]+\s+(INITED|DONE)|==|SUMMARY|stat::|Done|INFO: -max_total_time)|panicked" || true
exit "${PIPESTATUS[0]}"
