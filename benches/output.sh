#!/usr/bin/env bash
# Step output throughput: a step printing BYTES of short lines (`yes … | head -c BYTES`) run by
# `cortex workflow run` with its stdout to /dev/null (its output is redacted, written to the
# attempt's file with its size and hash, tailed and passed on live), against the same pipeline
# alone. Alternating rounds; medians and min–max, as benches/lib.sh reports every figure.
#
#   CORTEX=target/release/cortex [BASE=/path/to/older/cortex] [BYTES=50000000] [ROUNDS=5] \
#     benches/output.sh
#
# BASE, when given, is measured alternately with CORTEX in the same rounds (before/after).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
CORTEX=${CORTEX:-target/release/cortex}
BYTES=${BYTES:-50000000}
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pipeline="yes 'abcdefghijklmnopqrstuvwxyz0123456789' | head -c $BYTES"
mkdir -p "$work/wf"
cat > "$work/wf/fastout.yaml" <<YAML
name: fastout
steps:
  - name: Dump
    run: $pipeline
    timeout: 10m
    retry: {max_retry_attempts: 0}
YAML
run_one() { # BINARY: a fresh home each time
  local home
  home=$(mktemp -d "$work/home.XXXX")
  mkdir -p "$home/workflows" && cp "$work/wf/fastout.yaml" "$home/workflows/"
  elapsed env CORTEX_HOME="$home" "$1" workflow run fastout
  rm -rf "$home"
}
declare -a c b f
for r in $(seq 1 "$ROUNDS"); do
  c+=("$(run_one "$CORTEX")")
  [ -n "${BASE:-}" ] && b+=("$(run_one "$BASE")")
  f+=("$(elapsed sh -c "$pipeline")")
done
mbps() { read -r m lo hi <<<"$(stats "$@")"; awk -v n="$BYTES" -v m="$m" -v lo="$lo" -v hi="$hi" \
  'BEGIN { printf "%.1f MB/s (%.3f s; min–max %.3f–%.3f s)\n", n / m / 1e6, m, lo, hi }'; }
echo "bytes: $BYTES, rounds: $ROUNDS"
echo "cortex ($CORTEX): $(mbps "${c[@]}")"
[ -n "${BASE:-}" ] && echo "base ($BASE): $(mbps "${b[@]}")"
echo "the pipeline alone: $(mbps "${f[@]}")"
