"""The first-run compile cost of TV-L1 (what `extract_flow` and the flow demo's extraction pay
once per machine), apart from the flow itself: one process compiles `TVL1(dynamic=True)` on a
pair of `--size` frames with an empty Inductor cache, then a fresh process does the same from
the cache the first one left. Each prints the CPU-seconds of its first call (the compile plus
one pair) and of a second call (one pair, compiled), and the wall time; compile threads are 1,
so the CPU time is the measured process's own plus that of the C++ compiler runs it waits for.

    OMP_NUM_THREADS=1 python benchmarks/bench_flow_compile.py --size 48x48 [--cache-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the C++ compiler runs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _one_process(width: int, height: int) -> dict:
    import numpy as np
    import torch

    from video3d.flow import TVL1

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    first = torch.from_numpy(rng.integers(0, 256, (1, height, width), dtype=np.uint8))
    second = torch.roll(first, shifts=(1, 2), dims=(1, 2))
    solver = TVL1(compile=True, dynamic=True)
    result = {}
    for name in ("first_call", "second_call"):
        cpu, wall = _cpu_seconds(), time.perf_counter()
        solver(first, second)
        result[f"{name}_cpu_s"] = round(_cpu_seconds() - cpu, 2)
        result[f"{name}_wall_s"] = round(time.perf_counter() - wall, 2)
    result["compiled"] = solver.compiled
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", default="48x48", help="WIDTHxHEIGHT of the frame pair (default 48x48)")
    parser.add_argument("--cache-dir", help="Inductor cache folder to start empty (default: a temporary one)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    width, height = (int(v) for v in args.size.lower().split("x"))
    if args.child:
        print(json.dumps(_one_process(width, height)))
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        cache = args.cache_dir or scratch
        if os.listdir(cache) if os.path.isdir(cache) else False:
            print(f"error: --cache-dir {cache} is not empty", file=sys.stderr)
            return 2
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache, "TORCHINDUCTOR_COMPILE_THREADS": "1",
               "OMP_NUM_THREADS": "1"}
        runs = {}
        for name in ("cold_cache", "warm_cache"):
            done = subprocess.run([sys.executable, __file__, "--size", args.size, "--child"], env=env, check=True,
                                  capture_output=True, text=True)
            runs[name] = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps({"size": args.size, **runs, "load_average": os.getloadavg()[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
