# Shared by benches/run.sh and benches/peers.sh: timing one command, and the statistics of a
# series of samples (median and spread), so every figure is reported the same way.
# Sourced, not run.

# elapsed CMD...: wall time of CMD in seconds (its output discarded; a failure is reported on
# stderr and the figure kept, so one bad round shows in the spread instead of aborting).
elapsed() {
  local t0 t1
  t0=$(date +%s%N)
  if ! "$@" >/dev/null 2>&1; then echo "warning: failed: $*" >&2; fi
  t1=$(date +%s%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }'
}

# stats V...: "median min max" of the values.
stats() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan nan nan"; exit }
    m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
    printf "%.6f %.6f %.6f\n", m, v[1], v[NR] }'
}

# ratios "A..." "B...": the per-round ratios A_i / B_i of two equally long series.
ratios() {
  local -a a b
  read -r -a a <<<"$1"
  read -r -a b <<<"$2"
  local i
  for i in "${!a[@]}"; do awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.6f\n", x / y }'; done
}

# scale V FACTOR [FORMAT]: V * FACTOR, printed with FORMAT (default %.2f).
scale() { awk -v v="$1" -v f="$2" -v fmt="${3:-%.2f}" 'BEGIN { printf fmt, v * f }'; }

# peak_rss_kib CMD...: the peak resident set of CMD (and what it waits for), in KiB.
peak_rss_kib() {
  local out
  out=$(mktemp)
  /usr/bin/time -f '%M' -o "$out" "$@" >/dev/null 2>&1 || echo "warning: failed: $*" >&2
  tail -1 "$out"
  rm -f "$out"
}
