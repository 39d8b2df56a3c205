#!/usr/bin/env bash
# Where a step's CPU goes: `perf record -e cpu-clock -g` of the 1,000-step chain and the
# 1,000-phase fan-out, and of their floors (a dash loop of `/bin/sh -c true`, `xargs -P2`),
# split by benches/cpu_split.py into the engine's user space, its kernel time by system call,
# and the children's. CPU samples, not wall time: a shared machine changes them far less
# than it changes the timed rows of benches/run.sh.
#   benches/profile.sh            # N=1000, 10 kHz
# Needs: perf (Debian's linux-perf), dash, xargs, python3.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
HZ=${HZ:-10000}
cargo build --release --quiet
bin="$PWD/target/release/cortex"
work=$(mktemp -d "${TMPDIR:-/tmp}/cortex-profile.XXXXXX")
trap 'rm -rf "$work"' EXIT
{ echo "name: steps"; echo "steps:"; for i in $(seq 1 "$N"); do echo "  - {name: s$i, run: 'true'}"; done; } > "$work/steps.yaml"
{ echo "name: fan"; echo "description: independent phases"; echo "max_parallel: 2"; echo "phases:"
  for i in $(seq 1 "$N"); do echo "  - {name: p$i, parallel: true, run: 'true'}"; done; } > "$work/fan.yaml"
split() { # LABEL UNIT CMD...
  local label=$1 unit=$2
  shift 2
  perf record -q -e cpu-clock -F "$HZ" -g -o "$work/perf.data" "$@" >/dev/null 2>&1
  perf script -i "$work/perf.data" -F comm,tid,ip,sym 2>/dev/null > "$work/perf.txt"
  echo "## $label (µs of CPU per $unit)"
  python3 benches/cpu_split.py "$work/perf.txt" "$N" "$HZ"
  echo
}
mkdir -p "$work/h1" "$work/h2"
split "chain: cortex workflow run, $N \`true\` steps" step env CORTEX_HOME="$work/h1" "$bin" workflow run "$work/steps.yaml"
split "chain floor: a dash loop of /bin/sh -c true" step dash -c 'i=0; while [ $i -lt "$1" ]; do /bin/sh -c true; i=$((i+1)); done' _ "$N"
split "fan-out: cortex orchestrate run, $N phases, max_parallel 2" phase env CORTEX_HOME="$work/h2" "$bin" orchestrate run "$work/fan.yaml"
split "fan-out floor: xargs -P2 -n1 /bin/sh -c true" phase sh -c "seq 1 $N | xargs -P2 -n1 /bin/sh -c true"
