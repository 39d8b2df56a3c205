#!/usr/bin/env python3
"""Where the CPU of a benchmark goes, from `perf script` output of a `perf record -e cpu-clock -g`
run: the samples of the orchestrating process (cortex, or the floor's xargs / dash) against
those of the children it started (`sh` after its execve), split into user space and the
kernel, and the kernel part by the system call it was in. Read by benches/profile.sh.

    cpu_split.py SCRIPT_FILE UNITS HZ
prints one line per group, in microseconds per unit (step or phase): a sample is 1/HZ s.
"""
import collections
import re
import sys

path, units, hz = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
us_per_sample = 1e6 / hz / units

by_comm = collections.Counter()
kernel = collections.Counter()
user = collections.Counter()
for block in open(path, encoding="utf-8", errors="replace").read().split("\n\n"):
    lines = [l.strip() for l in block.strip().split("\n") if l.strip()]
    if not lines:
        continue
    comm = lines[0].split()[0]
    frames = [l.split(None, 1)[1] if len(l.split(None, 1)) > 1 else l for l in lines[1:]]
    who = "children" if comm == "sh" else "engine"
    by_comm[who] += 1
    call = None
    for f in frames:
        m = re.search(r"__(?:x64|se|do)_sys_(\w+)", f)
        if m:
            call = m.group(1)
            break
    if call is None and any("exc_page_fault" in f for f in frames):
        call = "page faults"
    if call is None and frames and "[kernel" in lines[1]:
        call = "other kernel (interrupts, scheduling)"
    if who == "engine":
        if call is None:
            user["user space"] += 1
        else:
            kernel[call] += 1

print(f"engine (the orchestrating process and its threads, and each child until its execve): "
      f"{by_comm['engine'] * us_per_sample:.0f} µs")
print(f"children (`sh -c true` after its execve): {by_comm['children'] * us_per_sample:.0f} µs")
print(f"  engine, user space: {user['user space'] * us_per_sample:.0f} µs")
print(f"  engine, kernel: {sum(kernel.values()) * us_per_sample:.0f} µs, of which:")
for call, n in kernel.most_common(14):
    print(f"    {call}: {n * us_per_sample:.1f} µs")
