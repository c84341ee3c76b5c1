"""Medians of the runs `timed-run.sh` appended to a file, per label, and one label's wall
time and peak memory against another's. Used by threads.sh and scaling.sh.

    python3 benches/medians.py TIMES LABEL_A LABEL_B
"""
import statistics
import sys

path, label_a, label_b = sys.argv[1:]
runs = {}
for line in open(path):
    label, wall, _user, _sys, kib = line.split()
    runs.setdefault(label, []).append((float(wall), int(kib)))
wall, peak = {}, {}
for label, measured in runs.items():
    walls = [w for w, _ in measured]
    wall[label] = statistics.median(walls)
    peak[label] = statistics.median(k for _, k in measured) / 1024
    print(f"{label}: {wall[label]:.2f} s ({min(walls):.2f} to {max(walls):.2f}), {peak[label]:,.0f} MiB, "
          f"{len(walls)} run{'s' if len(walls) != 1 else ''}")
if wall[label_b] > 0:
    times = f"{wall[label_a] / wall[label_b]:.2f} times the wall time"
else:
    times = "wall time too short to compare (GNU time counts hundredths of a second)"
if peak[label_b] > 0:
    memory = f"{peak[label_a] / peak[label_b]:.2f} times the peak memory"
else:
    memory = "peak memory not reported"
print(f"{label_a} against {label_b}: {times}, {memory}")
