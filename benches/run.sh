#!/usr/bin/env bash
# The benchmark table of BENCHMARKS.md: each figure against a floor measured in the same run,
# alternating cortex and floor (ROUNDS times, best of each kept) so that load hits both alike.
#   benches/run.sh            # N=1000 steps/phases, ROUNDS=3
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
cargo build --release --quiet
bin="$PWD/target/release/cortex"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }
# best_of CMD...: the smallest wall time of ROUNDS runs, in seconds
elapsed() { local t0 t1; t0=$(now); "$@" >/dev/null 2>&1 || true; t1=$(now); echo "$t1 - $t0" | bc -l; }
min() { printf '%s\n' "$@" | sort -g | head -1; }

mkdir -p "$work/home/workflows" "$work/home/scenarios"
{
  echo "name: steps"; echo "steps:"
  for i in $(seq 1 "$N"); do echo "  - {name: s$i, run: 'true'}"; done
} > "$work/home/workflows/steps.yaml"
{
  echo "name: fan"; echo "description: independent phases"; echo "max_parallel: 2"; echo "phases:"
  for i in $(seq 1 "$N"); do echo "  - {name: p$i, parallel: true, run: 'true'}"; done
} > "$work/home/scenarios/fan.yaml"

shell_loop() { for _ in $(seq 1 "$N"); do sh -c true; done; }
xargs_fan() { seq 1 "$N" | xargs -P2 -I{} sh -c true; }
run_steps() { (cd "$work" && CORTEX_HOME="$work/home-$1" "$bin" workflow run "$work/home/workflows/steps.yaml"); }
run_fan() { (cd "$work" && CORTEX_HOME="$work/home-fan" "$bin" orchestrate run "$work/home/scenarios/fan.yaml"); }
version_100() { for _ in $(seq 100); do "$bin" --version; done; }
list_100() { for _ in $(seq 100); do CORTEX_HOME="$work/home" "$bin" workflow list; done; }
true_100() { for _ in $(seq 100); do /bin/true; done; }
mkdir -p "$work/home-normal" "$work/home-full"
echo '{"workflow": {"durability": "full"}}' > "$work/home-full/cortex.config.json"

declare -A c f
for r in $(seq 1 "$ROUNDS"); do
  c[normal]+=" $(elapsed run_steps normal)"; f[normal]+=" $(elapsed shell_loop)"
  c[full]+=" $(elapsed run_steps full)";     f[full]+=" $(elapsed shell_loop)"
  c[fan]+=" $(elapsed run_fan)";             f[fan]+=" $(elapsed xargs_fan)"
  c[version]+=" $(elapsed version_100)";     f[version]+=" $(elapsed true_100)"
  c[list]+=" $(elapsed list_100)";           f[list]+=" $(elapsed true_100)"
done

printf '| figure | cortex | floor | ratio | target |\n|---|---|---|---|---|\n'
row() { # name cortex floor unit target scale
  local cv fv; cv=$(echo "$2 * $6" | bc -l); fv=$(echo "$3 * $6" | bc -l)
  printf '| %s | %.2f %s | %.2f %s | %.2fx | %s |\n' "$1" "$cv" "$4" "$fv" "$4" "$(echo "$2 / $3" | bc -l)" "$5"
}
row "engine overhead: $N \`true\` steps, durability normal (vs a shell loop of \`sh -c true\`)" "$(min ${c[normal]})" "$(min ${f[normal]})" "ms/step" "≤ 1.10x" "1000 / $N"
row "engine overhead: $N \`true\` steps, durability full (vs the same loop)" "$(min ${c[full]})" "$(min ${f[full]})" "ms/step" "" "1000 / $N"
row "fan-out: $N independent phases, max_parallel 2 (vs \`xargs -P2\`)" "$(min ${c[fan]})" "$(min ${f[fan]})" "s" "≤ 1.2x" "1"
row "start-up: \`cortex --version\` (vs \`/bin/true\`)" "$(min ${c[version]})" "$(min ${f[version]})" "ms" "a few ms" "10"
row "start-up: \`cortex workflow list\` (vs \`/bin/true\`)" "$(min ${c[list]})" "$(min ${f[list]})" "ms" "a few ms" "10"
# Every ratio reads as "times the floor's cost": for rates, floor / cortex. The appends rows
# (both stores, fsync on) need CORTEX_TEST_PG for their PostgreSQL half.
{ cargo bench --quiet --bench engine 2>/dev/null; cargo bench --quiet --bench appends 2>/dev/null; } | while IFS='|' read -r name cv fv unit target; do
  case "$unit" in
    */s) ratio=$(echo "$fv / $cv" | bc -l) ;;
    *) ratio=$(echo "$cv / $fv" | bc -l) ;;
  esac
  printf '| %s | %s %s | %s %s | %.2fx | %s |\n' "$name" "$cv" "$unit" "$fv" "$unit" "$ratio" "$target"
done
