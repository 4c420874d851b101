"""The page in a real browser: Debian's chromium (headless, driven by selenium through Debian's
chromedriver; nothing is downloaded) against `video3d-serve` run as a process on 127.0.0.1.

It uploads a SynthMotion val video, waits for the job, and checks the label the page shows
against `video3d-predict --json`'s top-1, the annotated video playing, the timeline seeking and
the window's top-5. The screenshot goes to tmp_path (and to $VIDEO3D_SERVE_SCREENSHOT when set,
which is how docs/images/serve_page.png was made).
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from data_prep.synthetic import generate
from tests.inference.conftest import DEMO
from video3d.cli import predict

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ROOT = Path(__file__).resolve().parents[2]
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1200,980", "--autoplay-policy=no-user-gesture-required"]

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("one_thread")]


@pytest.fixture
def server(served_files, tmp_path):
    """`tools/serve.py` on a free port; yields (url, work folder); Ctrl-C at the end."""
    work = tmp_path / "work"
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "serve.py"), "--cfg", DEMO, "--checkpoint", served_files["checkpoint"],
         "--port", "0", "--threads", "1", "--work-dir", str(work), *served_files["opts"]],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
    line = process.stdout.readline()
    match = re.search(r"on (http://127\.0\.0\.1:\d+/)", line)
    assert match, f"no address in {line!r}; stderr: {process.stderr.read() if process.poll() is not None else ''}"
    try:
        yield match.group(1), work
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 130, process.stderr.read()  # Ctrl-C, as every tool answers it
    assert not (work / "uploads").exists() and not (work / "jobs").exists()


@pytest.fixture
def browser(tmp_path):
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    assert os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER), (
        "the browser test needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; "
        ".ci/run installs them)")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def _val_video(root: Path) -> tuple[str, int]:
    """SynthMotion's first val video, exactly as data_prep.synthetic writes it (64 px, 60 frames)."""
    ((relative, label),) = generate(str(root), num_train=0, num_val=1, size=64, frames=60)["val"]
    return str(root / relative), label


def _wait(driver, script: str, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for: {script}")


def test_the_page_shows_predicts_label_plays_the_video_and_seeks(server, browser, served_files, tmp_path, capsys):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    url, _ = server
    video, _ = _val_video(tmp_path / "synthmotion")
    assert predict.main(["--cfg", DEMO, "--checkpoint", served_files["checkpoint"], "--json", video,
                         *served_files["opts"]]) == 0
    expected = json.loads(capsys.readouterr().out)[0]["top5"][0]["name"]

    browser.get(url)
    _wait(browser, "return document.getElementById('model').textContent.includes('synthmotion')")
    browser.find_element(By.ID, "file-input").send_keys(video)
    state = _wait(browser, "const s = document.body.dataset.state; return (s === 'done' || s === 'failed') && s")
    assert state == "done", browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "video-label").text == expected
    assert browser.execute_script("return [document.getElementById('upload-progress').value, "
                                  "document.getElementById('job-progress').value]") == [1, 1]

    # the annotated video loads and plays
    duration = _wait(browser, "const p = document.getElementById('player'); return p.readyState >= 1 && p.duration")
    assert duration == pytest.approx(2.0, abs=0.1)  # 60 frames at 30 fps
    browser.execute_script("document.getElementById('player').play()")
    _wait(browser, "return document.getElementById('player').currentTime > 0.2", timeout=30)
    browser.execute_script("document.getElementById('player').pause()")

    # clicking three quarters along the timeline seeks there and shows that window's top-5
    timeline = browser.find_element(By.ID, "timeline")
    ActionChains(browser).move_to_element_with_offset(timeline, timeline.size["width"] // 4, 0).click().perform()
    position = browser.execute_script("return document.getElementById('player').currentTime")
    assert position == pytest.approx(0.75 * duration, abs=0.1)
    rows = browser.find_elements(By.CSS_SELECTOR, "#window-top5 tr")
    assert len(rows) == 5 and all(row.text.split()[0] in served_files["names"] for row in rows)
    start, end = map(float, re.findall(r"[\d.]+", browser.find_element(By.ID, "window-time").text)[:2])
    assert start <= position + 0.3 and end >= position - 0.3
    assert browser.find_element(By.ID, "timeline-png").get_attribute("naturalWidth") != "0"
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == []

    screenshot = tmp_path / "serve_page.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("VIDEO3D_SERVE_SCREENSHOT"):
        shutil.copyfile(screenshot, os.environ["VIDEO3D_SERVE_SCREENSHOT"])
