"""`tracker --help` wall time, median of 10 runs.

    .venv/bin/python benchmarks/startup.py
"""
import statistics
import subprocess
import sys
import time
from pathlib import Path

tracker = str(Path(sys.executable).with_name("tracker"))
times = []
for _ in range(10):
    t = time.perf_counter()
    subprocess.run([tracker, "--help"], check=True, capture_output=True)
    times.append(time.perf_counter() - t)
print(f"tracker --help: median {statistics.median(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms (n=10)")
