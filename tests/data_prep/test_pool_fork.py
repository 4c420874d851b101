"""Forked pool workers and OpenCV's thread pool: a parent that has run parallel cv2 code and
then forks workers used to hang them in cv2.setNumThreads (a condition variable whose waiters
were the parent's pool threads). Run in a child interpreter with a timeout, so a hang fails
the test instead of stopping the suite."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent("""
    import cv2, numpy as np
    from multiprocessing import get_context
    from data_prep.pool import _init_pool_worker, opencv_quiet_for_fork

    cv2.setNumThreads(2)
    image = np.random.default_rng(0).integers(0, 255, (1080, 1920, 3), dtype=np.uint8)

    def busy():
        for _ in range(5):
            cv2.GaussianBlur(image, (9, 9), 0)

    def job(i):
        return int(cv2.resize(image, (64, 64)).sum())

    busy()
    for _ in range(8):
        with opencv_quiet_for_fork(), get_context().Pool(2, initializer=_init_pool_worker) as pool:
            assert len(pool.map(job, range(4))) == 4
        busy()
    assert cv2.getNumThreads() == 2  # the parent's setting comes back
    print("ok")
""")


def test_forked_workers_survive_a_parent_that_used_opencv_threads():
    done = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "ok"
