"""A bounded load test of video3d-serve on 127.0.0.1: POST /v1/predict, a fixed number of
requests at a fixed concurrency, its cost against predict's own compute in the same run.

    python benchmarks/bench_serve.py [--cfg configs/demo/synthmotion_iresnet3d_ffc.yaml]
        [--checkpoint CK] [--video V] [--requests 50] [--concurrency 8] [--sequential 10]
        [--threads 1] [KEY VALUE ...]

Without --checkpoint the model has random weights (timing does not depend on them); without
--video it is SynthMotion's val_00000 as data_prep.synthetic writes it (96 px, 60 frames).
The server (tools/serve.py, its own process, --threads torch threads) gets two warm-up requests,
--sequential requests one at a time, then --requests at --concurrency. Each answer's
Server-Timing header carries the wall and CPU (thread) seconds of its `predict_files` call, the
function video3d-predict runs: predict's own compute. Printed:
  - errors (the exit code is 1 if any), p50 / p95 latency, the server's RSS before and after;
  - overhead one at a time: median latency / median predict wall - 1 (HTTP, upload, JSON);
  - overhead under load: the server process's CPU seconds / the sum of its predict CPU
    seconds - 1 (event loop, multipart parsing, threads; target <= 10 %), and the wall time
    / the sum of predict wall - 1 (time the model was not busy);
  - for reference, the same prediction in this process (interleaved with the sequential
    requests, so load changes on a shared machine hit both alike).
Linux only (RSS and CPU are read from /proc).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import httpx  # noqa: E402

from data_prep.synthetic import generate  # noqa: E402
from video3d.config import load_config  # noqa: E402
from video3d.models import build_model  # noqa: E402
from video3d.serve.model import ServedModel  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as handle:
        kib = next(int(line.split()[1]) for line in handle if line.startswith("VmRSS:"))
    return kib / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))]


def start_server(args, checkpoint: str, queue: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, os.path.join(ROOT, "tools", "serve.py"), "--cfg", args.cfg, "--checkpoint", checkpoint,
               "--host", "127.0.0.1", "--port", "0", "--threads", str(args.threads), "--queue", str(queue), *args.opts]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+)/", line)
    if not match:
        process.kill()
        raise SystemExit(f"the server did not start: {line!r}")
    return process, match.group(1)


def post(client: httpx.Client, url: str, name: str, data: bytes) -> tuple[int, float, float, float]:
    """(status, latency, the server's predict wall and CPU seconds from Server-Timing)."""
    began = time.perf_counter()
    response = client.post(f"{url}/v1/predict", files={"video": (name, data, "video/mp4")})
    latency = time.perf_counter() - began
    timing = dict(re.findall(r"([\w-]+);dur=([\d.]+)", response.headers.get("server-timing", "")))
    return (response.status_code, latency, float(timing.get("predict", "nan")) / 1000,
            float(timing.get("predict-cpu", "nan")) / 1000)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cfg", default=os.path.join(ROOT, "configs", "demo", "synthmotion_iresnet3d_ffc.yaml"))
    parser.add_argument("--checkpoint", help="weights (default: random weights of --cfg)")
    parser.add_argument("--video", help="the uploaded file (default: SynthMotion val_00000)")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sequential", type=int, default=10,
                        help="requests one at a time before the load, each after the same prediction in this process")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, baseline and server alike")
    parser.add_argument("opts", nargs="*", help="config overrides KEY VALUE (baseline and server alike)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.cfg, [*args.opts, "DATA_LOADER.NUM_WORKERS", "0"])
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            checkpoint = os.path.join(tmp, "random.pyth")
            torch.save({"model_state": build_model(cfg).state_dict()}, checkpoint)
        video = args.video
        if video is None:
            ((relative, _),) = generate(os.path.join(tmp, "synthmotion"), num_train=0, num_val=1)["val"]
            video = os.path.join(tmp, "synthmotion", relative)
        data = open(video, "rb").read()
        name = os.path.basename(video)

        model = ServedModel.load(cfg, checkpoint)
        model.predict(video, name)  # warm-up

        process, url = start_server(args, checkpoint, queue=max(args.concurrency, 8))
        try:
            rss_start = rss_mib(process.pid)
            with httpx.Client(timeout=300, trust_env=False) as client:
                for _ in range(2):
                    post(client, url, name, data)
                rss_before = rss_mib(process.pid)
                sequential, server_cpus, base_walls, base_cpus = [], [], [], []
                for _ in range(args.sequential):  # interleaved, so load changes hit both alike
                    wall, cpu = time.perf_counter(), time.process_time()
                    model.predict(video, name)
                    base_walls.append(time.perf_counter() - wall)
                    base_cpus.append(time.process_time() - cpu)
                    cpu = cpu_seconds(process.pid)
                    sequential.append(post(client, url, name, data))
                    server_cpus.append(cpu_seconds(process.pid) - cpu)
            cpu_before, wall = cpu_seconds(process.pid), time.perf_counter()
            with ThreadPoolExecutor(args.concurrency) as pool, httpx.Client(timeout=300, trust_env=False) as client:
                loaded = list(pool.map(lambda _: post(client, url, name, data), range(args.requests)))
            wall = time.perf_counter() - wall
            server_cpu = cpu_seconds(process.pid) - cpu_before
            rss_after = rss_mib(process.pid)
        finally:
            process.send_signal(signal.SIGINT)
            process.wait(60)

    print(f"{name} ({len(data)} bytes), {args.threads} torch thread(s); in this process predict_files takes "
          f"{statistics.median(base_walls) * 1000:.1f} ms wall, {statistics.median(base_cpus) * 1000:.1f} ms CPU "
          f"(median of {args.sequential})")
    errors = sum(answer[0] != 200 for answer in sequential + loaded)
    seq_latency = statistics.median(answer[1] for answer in sequential)
    seq_predict = statistics.median(answer[2] for answer in sequential)
    print(f"one at a time: {args.sequential} requests, median latency {seq_latency * 1000:.1f} ms, the server's "
          f"predict {seq_predict * 1000:.1f} ms: overhead {(seq_latency / seq_predict - 1) * 100:+.1f} %; server CPU "
          f"{statistics.median(server_cpus) * 1000:.1f} ms a request")
    latencies = [answer[1] for answer in loaded]
    predict_wall = sum(answer[2] for answer in loaded)
    predict_cpu = sum(answer[3] for answer in loaded)
    print(f"load: {args.requests} requests at concurrency {args.concurrency} in {wall:.2f} s "
          f"({args.requests / wall:.2f} req/s), {errors} errors")
    print(f"latency: p50 {percentile(latencies, 50) * 1000:.0f} ms, p95 {percentile(latencies, 95) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print(f"server RSS: {rss_start:.0f} MiB at start, {rss_before:.0f} MiB after warm-up, {rss_after:.0f} MiB after the load")
    print(f"server CPU under load: {server_cpu:.2f} s, its predict_files {predict_cpu:.2f} s: overhead "
          f"{(server_cpu / predict_cpu - 1) * 100:+.1f} % (target <= 10 %); wall {wall:.2f} s, predict_files "
          f"{predict_wall:.2f} s: {(wall / predict_wall - 1) * 100:+.1f} %")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
