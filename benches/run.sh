#!/usr/bin/env bash
# The benchmark table of BENCHMARKS.md: each figure against the cheapest way to do the same work
# (a `/bin/sh` = dash loop of `/bin/sh -c true`, `xargs -P2`), measured ALTERNATELY with cortex
# in the same run (cortex first in odd rounds, the floor first in even ones), reported as the
# median of ROUNDS samples with the spread (min–max); the ratio is the median of the per-round
# ratios. The bash loop is an extra row, labelled: it is not a floor (its fork costs more).
#   benches/run.sh                  # N=1000 steps/phases, ROUNDS=7
#   N=200 ROUNDS=3 QUICK=1 benches/run.sh   # the timed rows only, no RSS, no in-process rows
# Needs: dash (/bin/sh on Debian), xargs, /usr/bin/time (package `time`), awk.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
N=${N:-1000}
ROUNDS=${ROUNDS:-7}
BIG_STEPS=${BIG_STEPS:-10000}
QUICK=${QUICK:-}
cargo build --release --quiet
cargo build --release --quiet --example spawn_floor
bin="$PWD/target/release/cortex"
spawn_floor="$PWD/target/release/examples/spawn_floor"
work=$(mktemp -d "${TMPDIR:-/tmp}/cortex-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The definitions: a chain of N `true` steps, N independent phases two at a time, and the same
# N phases with a join phase that waits for all of them.
steps_yaml() { # N
  echo "name: steps"; echo "steps:"
  for i in $(seq 1 "$1"); do echo "  - {name: s$i, run: 'true'}"; done
}
fan_yaml() { # NAME N
  echo "name: $1"; echo "description: independent phases"; echo "max_parallel: 2"; echo "phases:"
  for i in $(seq 1 "$2"); do echo "  - {name: p$i, parallel: true, run: 'true'}"; done
}
steps_yaml "$N" > "$work/steps.yaml"
fan_yaml fan "$N" > "$work/fan.yaml"
{
  fan_yaml join "$N"
  printf "  - {name: join, parallel: true, run: 'true', condition: 'after:%s'}\n" \
    "$(seq -s, -f 'p%g' 1 "$N")"
} > "$work/join.yaml"
mkdir -p "$work/h-normal" "$work/h-full" "$work/h-fan" "$work/h-join" "$work/h-list/workflows"
echo '{"workflow": {"durability": "full"}}' > "$work/h-full/cortex.config.json"
cp "$work/steps.yaml" "$work/h-list/workflows/"

# cortex and its floors. Every loop runs in dash and starts `/bin/sh` by path, as cortex does.
c_normal() { CORTEX_HOME="$work/h-normal" "$bin" workflow run "$work/steps.yaml"; }
c_full() { CORTEX_HOME="$work/h-full" "$bin" workflow run "$work/steps.yaml"; }
c_fan() { CORTEX_HOME="$work/h-fan" "$bin" orchestrate run "$work/fan.yaml"; }
c_join() { CORTEX_HOME="$work/h-join" "$bin" orchestrate run "$work/join.yaml"; }
c_version() { dash -c 'i=0; while [ $i -lt 100 ]; do "$1" --version; i=$((i+1)); done' _ "$bin"; }
c_list() { CORTEX_HOME="$work/h-list" dash -c 'i=0; while [ $i -lt 100 ]; do "$1" workflow list; i=$((i+1)); done' _ "$bin"; }
f_chain() { dash -c 'i=0; while [ $i -lt "$1" ]; do /bin/sh -c true; i=$((i+1)); done' _ "$N"; }
f_rust() { "$spawn_floor" "$N"; }
f_bash() { bash -c 'for ((i = 0; i < $1; i++)); do /bin/sh -c true; done' _ "$N"; }
f_fan() { seq 1 "$N" | xargs -P2 -n1 /bin/sh -c true; }
f_join() { f_fan && /bin/sh -c true; }
f_true() { dash -c 'i=0; while [ $i -lt 100 ]; do /bin/true; i=$((i+1)); done'; }

# figure key, cortex function, floor function
figures=(
  "normal c_normal f_chain"
  "full c_full f_chain"
  "bash c_normal f_bash"
  "rust c_normal f_rust"
  "fan c_fan f_fan"
  "join c_join f_join"
  "version c_version f_true"
  "list c_list f_true"
)
declare -A C F
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  for fig in "${figures[@]}"; do
    read -r key cf ff <<<"$fig"
    if ((r % 2)); then
      C[$key]+=" $(elapsed "$cf")"; F[$key]+=" $(elapsed "$ff")"
    else
      F[$key]+=" $(elapsed "$ff")"; C[$key]+=" $(elapsed "$cf")"
    fi
  done
done

printf '| figure | cortex | floor | ratio | target | spread (min–max: cortex; floor; ratio) |\n'
printf '|---|---|---|---|---|---|\n'
# row KEY LABEL UNIT FACTOR TARGET: medians scaled by FACTOR into UNIT.
row() {
  local cm cmin cmax fm fmin fmax rm rmin rmax
  # shellcheck disable=SC2086
  read -r cm cmin cmax <<<"$(stats ${C[$1]})"
  # shellcheck disable=SC2086
  read -r fm fmin fmax <<<"$(stats ${F[$1]})"
  # shellcheck disable=SC2046
  read -r rm rmin rmax <<<"$(stats $(ratios "${C[$1]}" "${F[$1]}"))"
  printf '| %s | %s %s | %s %s | %.2fx | %s | %s–%s; %s–%s; %.2f–%.2fx |\n' "$2" \
    "$(scale "$cm" "$4")" "$3" "$(scale "$fm" "$4")" "$3" "$rm" "$5" \
    "$(scale "$cmin" "$4")" "$(scale "$cmax" "$4")" "$(scale "$fmin" "$4")" "$(scale "$fmax" "$4")" \
    "$rmin" "$rmax"
}
per_step=$(awk -v n="$N" 'BEGIN { print 1000 / n }')
row normal "chain: $N \`true\` steps, durability normal (vs a dash loop of \`/bin/sh -c true\`)" "ms/step" "$per_step" "≤ 1.10x"
row full "chain: $N \`true\` steps, durability full (vs the same dash loop)" "ms/step" "$per_step" "≤ 1.3x"
row bash "extra, not a floor: the normal chain vs a **bash** loop of \`/bin/sh -c true\`" "ms/step" "$per_step" ""
row rust "extra, not a floor: the normal chain vs the same spawns from a Rust process with none of cortex's work (\`examples/spawn_floor.rs\`)" "ms/step" "$per_step" ""
row fan "fan-out: $N independent phases, max_parallel 2 (vs \`xargs -P2 -n1 /bin/sh -c true\`)" "s" 1 "≤ 1.2x"
row join "wide join: the same $N phases and a phase with \`after:\` all $N (vs \`xargs -P2\`, then one \`sh -c true\`)" "s" 1 ""
row version "start-up: \`cortex --version\` (vs \`/bin/true\`, both from a dash loop)" "ms" 10 "a few ms"
row list "start-up: \`cortex workflow list\` (vs \`/bin/true\`)" "ms" 10 "a few ms"

[ -n "$QUICK" ] && exit 0

# Memory: peak RSS (GNU time's maximum resident set). The floor of each: `cortex --version`, the
# binary doing nothing.
kib_row() { # LABEL KIB FLOOR_KIB
  printf '| %s | %s MiB | %s MiB | %.2fx | | one sample |\n' "$1" "$(scale "$2" 0.0009765625 %.1f)" \
    "$(scale "$3" 0.0009765625 %.1f)" "$(awk -v a="$2" -v b="$3" 'BEGIN { print a / b }')"
}
floor_rss=$(peak_rss_kib "$bin" --version)
steps_yaml "$BIG_STEPS" > "$work/big-steps.yaml"
mkdir -p "$work/h-big"
kib_row "peak RSS: a run of $BIG_STEPS \`true\` steps (vs \`cortex --version\`)" \
  "$(CORTEX_HOME="$work/h-big" peak_rss_kib "$bin" workflow run "$work/big-steps.yaml")" "$floor_rss"

# The in-process rows (medians of ENGINE_ROUNDS alternating samples), and a copy of their
# 1,000,000-event log for the memory of `status` and `log verify` on it.
export CORTEX_BENCH_KEEP_DB="$work/big.db"
{ cargo bench --quiet --bench engine 2>/dev/null; cargo bench --quiet --bench appends 2>/dev/null; } |
  while IFS='|' read -r name cv fv unit target spread; do
    case "$unit" in
      */s) ratio=$(awk -v a="$fv" -v b="$cv" 'BEGIN { print a / b }') ;;
      *) ratio=$(awk -v a="$cv" -v b="$fv" 'BEGIN { print a / b }') ;;
    esac
    printf '| %s | %s %s | %s %s | %.2fx | %s | %s |\n' "$name" "$cv" "$unit" "$fv" "$unit" "$ratio" "$target" "${spread:-one sample}"
  done
if [ -f "$work/big.db" ]; then
  cold=$(peak_rss_kib "$bin" --db "$work/big.db" workflow status BIG)
  warm=$(peak_rss_kib "$bin" --db "$work/big.db" workflow status BIG)
  verify=$(peak_rss_kib "$bin" --db "$work/big.db" log verify BIG)
  kib_row "peak RSS: \`workflow status\` of a 1M-event run, first time (replays, then snapshots)" "$cold" "$floor_rss"
  kib_row "peak RSS: \`workflow status\` of a 1M-event run (from its snapshot)" "$warm" "$floor_rss"
  kib_row "peak RSS: \`log verify\` of a 1M-event run" "$verify" "$floor_rss"
  t0=$(elapsed "$bin" --db "$work/big.db" log verify BIG)
  printf '| `log verify` of a 1M-event run, the real binary (start to end) | %s events/s | | | ≥ 1,000,000 events/s | one sample |\n' \
    "$(awk -v t="$t0" 'BEGIN { printf "%.0f", 1e6 / t }')"
fi
