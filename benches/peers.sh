#!/usr/bin/env bash
# The peer table of BENCHMARKS.md: the same chain (N steps of `/bin/sh -c true`, one after the
# other) and fan-out (N independent ones, two at a time) through cortex, the dash floor and each
# peer, measured alternately in one run (the order rotates each round), medians with min–max,
# and each one's ratio to the dash floor of the same round.
#   benches/peers.sh                 # N=1000, ROUNDS=5
# Installs what is missing: make, ninja and hyperfine from Debian's packages (apt-get, as root),
# just, doit and dbos from PyPI into a virtual environment under target/bench-peers/. A peer that
# cannot be installed (no network) is reported as such and skipped; the rest still run.
set -euo pipefail
cd "$(dirname "$0")/.."
. benches/lib.sh
N=${N:-1000}
ROUNDS=${ROUNDS:-5}
cargo build --release --quiet
bin="$PWD/target/release/cortex"
peers_dir="$PWD/target/bench-peers"
venv="$peers_dir/venv"
work=$(mktemp -d "${TMPDIR:-/tmp}/cortex-peers.XXXXXX")
trap 'rm -rf "$work"' EXIT
declare -A missing

# --- Installing the peers -------------------------------------------------------------------
apt_install() { # COMMAND PACKAGE
  command -v "$1" >/dev/null && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    { apt-get install -y -qq "$2" || { apt-get update -qq && apt-get install -y -qq "$2"; }; } >/dev/null 2>&1 || true
  fi
  command -v "$1" >/dev/null || missing[$1]="not installed (apt-get install $2 failed or not root)"
}
apt_install make make
apt_install ninja ninja-build
apt_install hyperfine hyperfine
mkdir -p "$peers_dir"
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv" >/dev/null 2>&1 || true; fi
for pkg in rust-just doit dbos; do
  "$venv/bin/python" -m pip show -q "$pkg" >/dev/null 2>&1 ||
    "$venv/bin/python" -m pip install -q "$pkg" >/dev/null 2>&1 ||
    missing[$pkg]="not installed (pip install $pkg failed: no network?)"
done
just_bin="$venv/bin/just"
[ -x "$just_bin" ] || missing[just]="not installed (PyPI rust-just)"
[ -x "$venv/bin/doit" ] || missing[doit]="not installed (PyPI doit)"
"$venv/bin/python" -c 'import dbos' 2>/dev/null || missing[dbos]="not installed (PyPI dbos)"

# --- The same work in each ----------------------------------------------------------------
mkdir -p "$work/h-chain" "$work/h-fan"
{
  echo "name: steps"; echo "steps:"
  for i in $(seq 1 "$N"); do echo "  - {name: s$i, run: 'true'}"; done
} > "$work/steps.yaml"
{
  echo "name: fan"; echo "description: independent phases"; echo "max_parallel: 2"; echo "phases:"
  for i in $(seq 1 "$N"); do echo "  - {name: p$i, parallel: true, run: 'true'}"; done
} > "$work/fan.yaml"
# make: the recipe execs `/bin/sh -c true` itself (no shell metacharacters: make runs it
# directly), once per phony target.
{
  echo ".PHONY: s0 $(seq -s' ' -f 's%g' 1 "$N")"; echo "s0:"
  for i in $(seq 1 "$N"); do printf 's%d: s%d\n\t@/bin/sh -c true\n' "$i" "$((i - 1))"; done
} > "$work/chain.mk"
{
  echo ".PHONY: all $(seq -s' ' -f 'p%g' 1 "$N")"; echo "all: $(seq -s' ' -f 'p%g' 1 "$N")"
  for i in $(seq 1 "$N"); do printf 'p%d:\n\t@/bin/sh -c true\n' "$i"; done
} > "$work/fan.mk"
# ninja runs each command through `/bin/sh -c`: the command `true` is `/bin/sh -c true`.
mkdir -p "$work/ninja-chain" "$work/ninja-fan"
{
  printf 'rule t\n  command = true\n'
  echo "build s1: t"
  for i in $(seq 2 "$N"); do echo "build s$i: t | s$((i - 1))"; done
} > "$work/ninja-chain/build.ninja"
{
  printf 'rule t\n  command = true\n'
  for i in $(seq 1 "$N"); do echo "build p$i: t"; done
} > "$work/ninja-fan/build.ninja"
# just: each line through `/bin/sh -c`, dependencies first. No parallel dependencies in just.
{
  echo 'set shell := ["/bin/sh", "-c"]'; echo "s0:"
  for i in $(seq 1 "$N"); do printf 's%d: s%d\n    @true\n' "$i" "$((i - 1))"; done
} > "$work/justfile"
# doit: a string action runs through `/bin/sh -c`; the fan-out with two worker processes.
python_list() { seq -s, -f "'$1%g'" 1 "$N"; }
cat > "$work/dodo_chain.py" <<EOF
DOIT_CONFIG = {"verbosity": 0, "dep_file": "$work/doit-chain.db"}
def task_s():
    for i in range(1, $N + 1):
        yield {"name": str(i), "actions": ["true"], "task_dep": ["s:%d" % (i - 1)] if i > 1 else [], "uptodate": [False]}
EOF
cat > "$work/dodo_fan.py" <<EOF
DOIT_CONFIG = {"verbosity": 0, "dep_file": "$work/doit-fan.db"}
def task_p():
    for i in range(1, $N + 1):
        yield {"name": str(i), "actions": ["true"], "uptodate": [False]}
EOF
# dbos: a durable workflow of N steps, each running `/bin/sh -c true`; the fan-out enqueues N
# workflows of one step on a queue with concurrency 2. Its system database is SQLite.
cat > "$work/dbos_bench.py" <<'EOF'
import os, subprocess, sys
from dbos import DBOS
mode, n, db = sys.argv[1], int(sys.argv[2]), sys.argv[3]
DBOS(config={"name": "bench", "system_database_url": "sqlite:///" + db})

@DBOS.step()
def step():
    subprocess.run(["/bin/sh", "-c", "true"], check=True)

@DBOS.workflow()
def chain():
    for _ in range(n):
        step()

@DBOS.workflow()
def one():
    step()

DBOS.launch()
# Polled every 10 ms (default: every second), so the queue's waits do not dominate.
queue = DBOS.register_queue("fan", concurrency=2, polling_interval_sec=0.01)
if mode == "chain":
    chain()
else:
    handles = [queue.enqueue(one) for _ in range(n)]
    for h in handles:
        h.get_result()
DBOS.destroy()
EOF

chain_cortex() { CORTEX_HOME="$work/h-chain" "$bin" workflow run "$work/steps.yaml"; }
chain_dash() { dash -c 'i=0; while [ $i -lt "$1" ]; do /bin/sh -c true; i=$((i+1)); done' _ "$N"; }
chain_make() { make -s -f "$work/chain.mk" "s$N"; }
chain_ninja() { ninja -C "$work/ninja-chain" -j1 "s$N"; }
chain_just() { "$just_bin" --justfile "$work/justfile" --working-directory "$work" "s$N"; }
chain_doit() { (cd "$work" && "$venv/bin/doit" -f dodo_chain.py "s:$N"); }
chain_dbos() { rm -f "$work/dbos-chain.db"; "$venv/bin/python" "$work/dbos_bench.py" chain "$N" "$work/dbos-chain.db"; }
fan_cortex() { CORTEX_HOME="$work/h-fan" "$bin" orchestrate run "$work/fan.yaml"; }
fan_dash() { seq 1 "$N" | xargs -P2 -n1 /bin/sh -c true; }
fan_make() { make -s -j2 -f "$work/fan.mk" all; }
fan_ninja() { ninja -C "$work/ninja-fan" -j2; }
fan_doit() { (cd "$work" && "$venv/bin/doit" -f dodo_fan.py -n 2 -P process); }
fan_dbos() { rm -f "$work/dbos-fan.db"; "$venv/bin/python" "$work/dbos_bench.py" fan "$N" "$work/dbos-fan.db"; }

# Which peer needs which command; the fan-out of just does not exist (no parallel deps).
tools=(dash cortex make ninja just doit dbos)
needs() { case "$1" in make) echo make ;; ninja) echo ninja ;; just) echo just ;; doit) echo doit ;; dbos) echo dbos ;; *) echo "" ;; esac; }
available() { local n; n=$(needs "$1"); [ -z "$n" ] || [ -z "${missing[$n]:-}" ]; }
# A peer that fails once is dropped (its error said), so a broken install does not fake a time.
declare -A T broken
for r in $(seq 1 "$ROUNDS"); do
  echo "round $r/$ROUNDS" >&2
  k=$(( (r - 1) % ${#tools[@]} ))
  for j in $(seq 0 $((${#tools[@]} - 1))); do
    t=${tools[$(( (k + j) % ${#tools[@]} ))]}
    available "$t" || continue
    for kind in chain fan; do
      declare -F "${kind}_$t" >/dev/null || continue
      [ -z "${broken[$kind.$t]:-}" ] || continue
      t0=$(date +%s%N)
      if ! "${kind}_$t" >"$work/out" 2>&1; then
        broken[$kind.$t]="failed: $(tail -1 "$work/out" | cut -c1-120)"
        continue
      fi
      t1=$(date +%s%N)
      T[$kind.$t]+=" $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')"
    done
  done
done

printf '| tool | chain: %s steps, ms/step (min–max) | ratio to dash | fan-out: %s, 2 at a time, s (min–max) | ratio to xargs -P2 |\n' "$N" "$N"
printf '|---|---|---|---|---|\n'
cell() { # KIND TOOL FACTOR
  local key="$1.$2" m lo hi
  if ! available "$2"; then echo "${missing[$(needs "$2")]}|"; return; fi
  if ! declare -F "$1_$2" >/dev/null; then echo "n/a (no parallel dependencies)|"; return; fi
  if [ -n "${broken[$key]:-}" ]; then echo "${broken[$key]}|"; return; fi
  # shellcheck disable=SC2086
  read -r m lo hi <<<"$(stats ${T[$key]})"
  # shellcheck disable=SC2046
  printf '%s (%s–%s)|%.2fx\n' "$(scale "$m" "$3")" "$(scale "$lo" "$3")" "$(scale "$hi" "$3")" \
    "$(stats $(ratios "${T[$key]}" "${T[$1.dash]}") | cut -d' ' -f1)"
}
per_step=$(awk -v n="$N" 'BEGIN { print 1000 / n }')
for t in "${tools[@]}"; do
  label=$t
  [ "$t" = dash ] && label="floor: dash loop / xargs -P2"
  printf '| %s | %s | %s |\n' "$label" "$(cell chain "$t" "$per_step")" "$(cell fan "$t" 1)"
done

# A cross-check of this script's timing by hyperfine (its own alternation and statistics).
if command -v hyperfine >/dev/null; then
  hyperfine -N --runs 3 --style basic \
    "env CORTEX_HOME=$work/h-chain $bin workflow run $work/steps.yaml" \
    "dash -c 'i=0; while [ \$i -lt $N ]; do /bin/sh -c true; i=\$((i+1)); done'" >&2 || true
fi
