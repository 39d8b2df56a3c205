#!/usr/bin/env bash
# Workers (issue 13, SPEC §9): the figures of BENCHMARKS.md's "Workers" table, each against a
# floor measured in the same run where there is one.
#   benches/workers.sh                       # on SQLite (a home's cortex.db)
#   CORTEX_BENCH_PG=postgres://… benches/workers.sh   # on PostgreSQL (a schema of its own)
# Figures:
#   fan-out: N `true` phases (max_parallel W) driven by W workers (`--concurrency 1` each),
#     from `run --submit` to the run's end, alternating with `xargs -PW sh -c true`, ROUNDS
#     rounds, medians with their spread; W in WIDTHS (1 2 4 8). Its rate is claim+complete
#     per second.
#   wake-up: from a one-phase run's `run_submitted` to its phase's `step_started` (both
#     recorded by cortex on this host), with one idle worker; SAMPLES samples, median and p99.
#   recovery: a worker killed (SIGKILL) mid-phase with a LEASE lease; from the kill to the
#     phase's next `attempt_claimed` by another worker; SAMPLES/5 samples, median and max.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
ROUNDS=${ROUNDS:-3}
SAMPLES=${SAMPLES:-30}     # 0: the fan-out rows only
WIDTHS=${WIDTHS:-1 2 4 8}   # how many workers drive the fan-out
LEASE=${LEASE:-2s}
POLL=${POLL:-100ms}   # the idle worker's polling on SQLite (PostgreSQL wakes it by NOTIFY)
cargo build --release --quiet
bin="$PWD/target/release/cortex"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

# A fresh log for each measurement: a home, and on PostgreSQL a schema of its own.
fresh() { # fresh NAME -> sets HOME_DIR and DB
  HOME_DIR="$work/$1"
  mkdir -p "$HOME_DIR/scenarios"
  cp "$work/scenarios/"*.yaml "$HOME_DIR/scenarios/"
  if [ -n "${CORTEX_BENCH_PG:-}" ]; then
    local schema="bench_${1//-/_}_$$"
    psql -v ON_ERROR_STOP=1 "$CORTEX_BENCH_PG" -qc "DROP SCHEMA IF EXISTS $schema CASCADE" -c "CREATE SCHEMA $schema" >/dev/null
    local sep='?'; case "$CORTEX_BENCH_PG" in *\?*) sep='&';; esac
    DB="$CORTEX_BENCH_PG${sep}options=-csearch_path%3D$schema"
  else
    DB="sqlite:$HOME_DIR/cortex.db"
  fi
}
cx() { CORTEX_HOME="$HOME_DIR" CORTEX_DB="$DB" "$bin" "$@"; }
# In the background as its own process (so that $! is cortex itself): ( cx_exec ARGS ) &
cx_exec() { CORTEX_HOME="$HOME_DIR" CORTEX_DB="$DB" exec "$bin" "$@"; }
now() { date +%s.%N; }

mkdir -p "$work/scenarios"
for w in $WIDTHS; do
  {
    echo "name: fan$w"; echo "description: independent phases"; echo "max_parallel: $w"; echo "phases:"
    for i in $(seq 1 "$N"); do echo "  - {name: p$i, parallel: true, run: 'true'}"; done
  } > "$work/scenarios/fan$w.yaml"
done
printf 'name: one\ndescription: one phase\nphases:\n  - {name: only, run: "true"}\n' > "$work/scenarios/one.yaml"
printf 'name: slow\ndescription: one slow phase\nphases:\n  - {name: work, run: "sleep 3"}\n' > "$work/scenarios/slow.yaml"

# fan-out over W workers: seconds from submit to the end of the run.
fan_workers() { # W round
  fresh "fan$1-$2"
  local t0 t1 run
  t0=$(now)
  run=$(cx orchestrate run "fan$1" --submit)
  local ws=()
  for i in $(seq 1 "$1"); do
    ( cx_exec worker --name "w$i" --concurrency 1 --poll 50ms --until-idle >/dev/null 2>&1 ) & ws+=($!)
  done
  wait "${ws[@]}"
  t1=$(now)
  cx --json orchestrate status "$run" | grep -q '"status": *"completed"' || { echo "fan$1: the run did not complete" >&2; exit 1; }
  echo "$t1 - $t0" | bc -l
}
xargs_fan() { local t0 t1; t0=$(now); seq 1 "$N" | xargs -P"$1" -I{} sh -c true; t1=$(now); echo "$t1 - $t0" | bc -l; }

stats() { python3 -c '
import statistics, sys
xs = sorted(float(x) for x in sys.argv[1:])
print(f"{statistics.median(xs):.3f} {xs[0]:.3f} {xs[-1]:.3f}")' "$@"; }

echo "| figure | cortex (median) | floor (median) | ratio | spread (min–max) |"
echo "|---|---|---|---|---|"
for w in $WIDTHS; do
  cs=(); fs=()
  for r in $(seq 1 "$ROUNDS"); do cs+=("$(fan_workers "$w" "$r")"); fs+=("$(xargs_fan "$w")"); done
  read -r cm cmin cmax <<<"$(stats "${cs[@]}")"
  read -r fm fmin fmax <<<"$(stats "${fs[@]}")"
  printf '| fan-out: %s phases over %s worker(s) (vs `xargs -P%s sh -c true`) | %.2f s (%.0f phases/s) | %.2f s | %.2fx | cortex %.2f–%.2f s, floor %.2f–%.2f s |\n' \
    "$N" "$w" "$w" "$cm" "$(echo "$N / $cm" | bc -l)" "$fm" "$(echo "$cm / $fm" | bc -l)" "$cmin" "$cmax" "$fmin" "$fmax"
done

[ "$SAMPLES" -gt 0 ] || exit 0

# wake-up latency: one idle worker; a one-phase run submitted; submit -> phase started.
fresh wake
( cx_exec worker --name idle --poll "$POLL" >/dev/null 2>&1 ) & pids+=($!)
sleep 1
lat=()
for s in $(seq 1 "$SAMPLES"); do
  run=$(cx orchestrate run one --submit)
  for _ in $(seq 1 200); do
    cx --json orchestrate status "$run" | grep -q '"status": *"completed"' && break
    sleep 0.05
  done
  lat+=("$(cx --json log show "$run" | python3 -c '
import json, sys, datetime
ev = json.load(sys.stdin)
t = lambda e: datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
sub = next(e for e in ev if e["type"] == "run_submitted")
start = next(e for e in ev if e["type"] == "step_started")
print(f"{(t(start) - t(sub)) * 1000:.1f}")')")
done
read -r lm lmin lmax <<<"$(stats "${lat[@]}")"
p99=$(printf '%s\n' "${lat[@]}" | sort -g | awk -v n="${#lat[@]}" 'NR == int(n * 0.99 + 0.999) {print}')
printf '| wake-up: `run_submitted` to the phase'"'"'s `step_started`, one idle worker (%s) | %.1f ms median, %.1f ms p99 | | | %.1f–%.1f ms over %s samples |\n' \
  "$([ -n "${CORTEX_BENCH_PG:-}" ] && echo "PostgreSQL, LISTEN/NOTIFY" || echo "SQLite, polling every $POLL")" "$lm" "$p99" "$lmin" "$lmax" "$SAMPLES"
kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=()

# recovery: kill -9 the worker that runs a phase; the next claim by another worker.
rec=()
for s in $(seq 1 "$(( (SAMPLES + 4) / 5 ))"); do
  fresh "recover$s"
  run=$(cx orchestrate run slow --submit)
  ( cx_exec worker --name doomed --poll 50ms --lease "$LEASE" >/dev/null 2>&1 ) & doomed=$!
  for _ in $(seq 1 200); do cx --json log show "$run" | grep -q '"step_started"' && break; sleep 0.05; done
  kill -9 "$doomed"; t_kill=$(now)
  ( cx_exec worker --name rescuer --poll 50ms --lease "$LEASE" >/dev/null 2>&1 ) & pids+=($!)
  for _ in $(seq 1 600); do
    [ "$(cx --json log show "$run" | grep -c '"attempt_claimed"')" -ge 2 ] && break
    sleep 0.05
  done
  rec+=("$(cx --json log show "$run" | python3 -c '
import json, sys, datetime
ev = json.load(sys.stdin)
t = lambda e: datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
claims = [e for e in ev if e["type"] == "attempt_claimed"]
print(f"{t(claims[1]) - float(sys.argv[1]):.2f}")' "$t_kill")")
  kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; pids=()
done
read -r rm rmin rmax <<<"$(stats "${rec[@]}")"
printf '| recovery: a worker killed mid-phase (lease %s; on one host the run lock frees at once, another host waits out the lease) to the phase claimed again by another worker | %.2f s median | lease + 5 s | | %.2f–%.2f s over %s samples |\n' \
  "$LEASE" "$rm" "$rmin" "$rmax" "${#rec[@]}"
