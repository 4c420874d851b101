"""The HTTP API in-process (TestClient): answers in predict.py --json / windows.jsonl shapes,
one-line JSON refusals for bad input, the queue and the bounds on kept jobs."""

import ast
import hashlib
import json
import os
import uuid
from pathlib import Path

import pytest

import video3d
from tests.inference.conftest import DEMO
from tests.serve.conftest import NAMES, make_client, wait_for_job
from video3d.cli import demo, predict

pytestmark = pytest.mark.usefixtures("one_thread")


def _upload(client, url, path, name=None, content_type="video/mp4"):
    with open(path, "rb") as handle:
        return client.post(url, files={"video": (name or os.path.basename(path), handle, content_type)})


def _predict_cli(served_files, video, capsys) -> list[dict]:
    capsys.readouterr()
    assert predict.main(["--cfg", DEMO, "--checkpoint", served_files["checkpoint"], "--json", video,
                         *served_files["opts"]]) == 0
    # the server shows the uploaded file's name where predict shows the path it was given
    return [{**entry, "path": os.path.basename(entry["path"])} for entry in json.loads(capsys.readouterr().out)]


def _one_line_error(response, status):
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and "\n" not in body["error"] and body["error"], body
    return body["error"]


def _left_in(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_predict_answers_exactly_what_predict_json_prints(served_model, served_files, tmp_path, capsys):
    expected = _predict_cli(served_files, served_files["video"], capsys)
    with make_client(served_model, tmp_path) as client:
        response = _upload(client, "/v1/predict", served_files["video"])
        assert response.status_code == 200
        assert response.json() == expected
        assert response.headers["server-timing"].startswith("predict;dur=")
        assert _left_in(tmp_path / "work" / "uploads") == []


def test_model_info_and_health(served_model, served_files, tmp_path):
    digest = hashlib.sha256(open(served_files["checkpoint"], "rb").read()).hexdigest()
    with make_client(served_model, tmp_path) as client:
        info = client.get("/v1/model").json()
        assert info["classes"] == NAMES and info["input_shape"] == [3, 4, 32, 32]
        assert info["architecture"]["head"] == "ffc" and info["checkpoint"]["kind"] == "checkpoint"
        assert info["checkpoint"]["checksum"] == f"sha256:{digest}"
        assert client.get("/healthz").json() == {"status": "ok", "queued": 0, "queue": 8, "jobs_running": 0}
        page = client.get("/")
        assert page.status_code == 200 and 'id="file-input"' in page.text and "/app.js" in page.text
        assert "XMLHttpRequest" in client.get("/app.js").text


def test_job_windows_equal_the_demos_and_its_files_are_served(served_model, served_files, tmp_path, capsys):
    video = served_files["long_video"]
    assert demo.main(["--cfg", DEMO, "--checkpoint", served_files["checkpoint"], "--out", str(tmp_path / "demo"),
                      video, *served_files["opts"]]) == 0
    demo_windows = [json.loads(line) for line in (tmp_path / "demo" / "windows.jsonl").read_text().splitlines()]
    expected_prediction = _predict_cli(served_files, video, capsys)[0]
    with make_client(served_model, tmp_path) as client:
        submitted = _upload(client, "/v1/jobs", video)
        assert submitted.status_code == 202 and submitted.headers["location"] == f"/v1/jobs/{submitted.json()['id']}"
        status = wait_for_job(client, submitted.json()["id"])
        assert status["state"] == "done", status
        assert status["windows"] == demo_windows and status["progress"] == 1.0
        assert status["prediction"] == expected_prediction
        later = client.get(f"/v1/jobs/{status['id']}?since=3").json()
        assert later["windows"] == demo_windows[3:] and later["windows_total"] == len(demo_windows)
        kinds = {"annotated.mp4": "video/mp4", "timeline.png": "image/png", "segments.json": "application/json"}
        assert set(status["files"]) == set(kinds)
        for name, url in status["files"].items():
            answer = client.get(url)
            assert answer.status_code == 200 and answer.headers["content-type"].startswith(kinds[name])
        segments = client.get(status["files"]["segments.json"]).json()["segments"]
        assert segments[0]["start"] == 0.0 and segments[-1]["end"] == pytest.approx(demo_windows[-1]["end_time"], abs=1e-3)
        # the uploaded video is gone once the job ended; only the results stay
        assert sorted(os.listdir(tmp_path / "work" / "jobs" / status["id"])) == sorted(
            ["annotated.mp4", "timeline.png", "segments.json", "windows.jsonl", *_demo_extras(tmp_path)])


def test_gradcam_jobs_draw_the_heat_into_the_annotated_video(served_model, served_files, tmp_path):
    videos = {}
    for gradcam in (False, True):
        with make_client(served_model, tmp_path / str(gradcam), gradcam=gradcam) as client:
            status = wait_for_job(client, _upload(client, "/v1/jobs", served_files["video"]).json()["id"])
            assert status["state"] == "done", status
            videos[gradcam] = (client.get(status["files"]["annotated.mp4"]).content,
                               [[t["class"] for t in w["topk"]] for w in status["windows"]])
    assert videos[True][0] != videos[False][0] and videos[True][1] == videos[False][1]


def _demo_extras(tmp_path) -> list[str]:
    """Files the demo writes besides the three served and windows.jsonl (segments.csv, ...)."""
    return [n for n in os.listdir(tmp_path / "demo") if n not in ("annotated.mp4", "timeline.png", "segments.json",
                                                                  "windows.jsonl")]


def test_bad_uploads_get_a_one_line_4xx_and_the_server_keeps_serving(served_model, served_files, tmp_path):
    not_video = tmp_path / "notes.mp4"
    not_video.write_text("these are not the frames you are looking for\n" * 50)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    truncated = tmp_path / "cut.mp4"  # index at the end: half the file cannot be opened
    truncated.write_bytes(open(served_files["video"], "rb").read()[:2000])
    with make_client(served_model, tmp_path) as client:
        for url in ("/v1/predict", "/v1/jobs"):
            assert "notes.mp4" in _one_line_error(_upload(client, url, not_video), 422)
            assert "cut.mp4" in _one_line_error(_upload(client, url, truncated), 422)
            assert "empty" in _one_line_error(_upload(client, url, empty), 400)
            assert "text/plain" in _one_line_error(_upload(client, url, served_files["video"],
                                                           content_type="text/plain"), 415)
            assert "application/json" in _one_line_error(client.post(url, json={"video": "x"}), 415)
            assert "'video'" in _one_line_error(client.post(url, files={"clip": ("a.mp4", b"123", "video/mp4")}), 400)
            assert "multipart" in _one_line_error(client.post(url, content=b"--x\r\nbroken", headers={
                "content-type": "multipart/form-data; boundary=x"}), 400)
        assert _one_line_error(client.get("/v1/predict"), 405)
        assert _one_line_error(client.get("/no/such/page"), 404)
        assert client.get("/healthz").json()["queued"] == 0
        assert _upload(client, "/v1/predict", served_files["video"]).status_code == 200
        assert _left_in(tmp_path / "work" / "uploads") == [] and _left_in(tmp_path / "work" / "jobs") == []


def test_path_traversal_in_the_file_name_stays_in_the_work_folder(served_model, served_files, tmp_path):
    with make_client(served_model, tmp_path) as client:
        for name in ("../../../evil.mp4", "..\\..\\evil.mp4", "/etc/evil.mp4"):
            response = _upload(client, "/v1/predict", served_files["video"], name=name)
            assert response.status_code == 200 and response.json()[0]["path"] == "evil.mp4"
        job = wait_for_job(client, _upload(client, "/v1/jobs", served_files["video"], name="../../evil.mp4").json()["id"])
        assert job["state"] == "done" and job["source"] == "evil.mp4"
        assert _one_line_error(client.get(f"/v1/jobs/{job['id']}/..%2F..%2Fweights.pyth"), 404)
        assert _one_line_error(client.get(f"/v1/jobs/{job['id']}/windows.jsonl"), 404)
    # Nothing named after the upload anywhere around the work folder (other tests' files share
    # tmp_path.parent: only the upload's own name counts), nor where the names point.
    found = [os.path.join(root, n) for root, _, files in os.walk(tmp_path.parent) for n in files
             if n.startswith("evil.mp4")]
    found += [p for p in ("/etc/evil.mp4", "/tmp/evil.mp4") if os.path.exists(p)]
    assert found == []


def test_unknown_job_ids_are_404_and_bad_since_400(served_model, served_files, tmp_path):
    with make_client(served_model, tmp_path) as client:
        for job_id in (uuid.uuid4().hex, "%2E%2E", "x" * 500):
            assert "no job" in _one_line_error(client.get(f"/v1/jobs/{job_id}"), 404)
            assert "no job" in _one_line_error(client.get(f"/v1/jobs/{job_id}/annotated.mp4"), 404)
        assert _one_line_error(client.get("/v1/jobs/%2E%2E%2Fetc/annotated.mp4"), 404)
        job_id = wait_for_job(client, _upload(client, "/v1/jobs", served_files["video"]).json()["id"])["id"]
        assert "window index" in _one_line_error(client.get(f"/v1/jobs/{job_id}?since=abc"), 400)


def test_requests_past_the_queue_get_503_until_a_slot_frees(served_model, served_files, tmp_path):
    with make_client(served_model, tmp_path, queue=1) as client:
        admission = client.app.state.server.admission
        assert admission.try_enter()  # a request in the house
        assert "busy" in _one_line_error(_upload(client, "/v1/predict", served_files["video"]), 503)
        assert "busy" in _one_line_error(_upload(client, "/v1/jobs", served_files["video"]), 503)
        admission.leave()
        assert _upload(client, "/v1/predict", served_files["video"]).status_code == 200
        job = _upload(client, "/v1/jobs", served_files["video"]).json()
        wait_for_job(client, job["id"])
        assert admission.inside == 0  # the job left the queue when it ended
        assert _left_in(tmp_path / "work" / "uploads") == []


def test_finished_jobs_are_dropped_past_the_count_age_and_disk_bounds(served_model, served_files, tmp_path):
    video = served_files["video"]
    with make_client(served_model, tmp_path / "count", max_jobs=2) as client:
        ids = [wait_for_job(client, _upload(client, "/v1/jobs", video).json()["id"])["id"] for _ in range(3)]
        assert [client.get(f"/v1/jobs/{i}").status_code for i in ids] == [404, 200, 200]
        assert sorted(os.listdir(tmp_path / "count" / "work" / "jobs")) == sorted(ids[1:])
        one_job = sum(os.path.getsize(os.path.join(r, n)) for r, _, f in os.walk(tmp_path / "count" / "work" / "jobs" / ids[2])
                      for n in f)
    with make_client(served_model, tmp_path / "age", job_ttl_s=60.0) as client:
        job_id = wait_for_job(client, _upload(client, "/v1/jobs", video).json()["id"])["id"]
        client.app.state.server.jobs.get(job_id).finished -= 61.0  # as if it ended a minute ago
        assert client.get(f"/v1/jobs/{job_id}").status_code == 404
        assert os.listdir(tmp_path / "age" / "work" / "jobs") == []
    size = os.path.getsize(video)
    # room for one finished job and half an upload: the next upload makes the first job go
    with make_client(served_model, tmp_path / "disk", jobs_disk_bytes=one_job + size // 2) as client:
        first = wait_for_job(client, _upload(client, "/v1/jobs", video).json()["id"])["id"]
        second = _upload(client, "/v1/jobs", video).json()["id"]
        assert client.get(f"/v1/jobs/{first}").status_code == 404
        wait_for_job(client, second)
    with make_client(served_model, tmp_path / "tiny", jobs_disk_bytes=size // 2) as client:
        assert "storage is full" in _one_line_error(_upload(client, "/v1/jobs", video), 503)
        assert client.app.state.server.admission.inside == 0


def test_the_work_folder_it_made_is_removed_at_shutdown(served_model, served_files):
    from starlette.testclient import TestClient

    from video3d.serve.app import create_app

    app = create_app(served_model)
    work = app.state.server.work_dir
    with TestClient(app) as client:
        wait_for_job(client, _upload(client, "/v1/jobs", served_files["video"]).json()["id"])
        assert os.listdir(os.path.join(work, "jobs"))
        running = _upload(client, "/v1/jobs", served_files["long_video"]).json()["id"]  # not waited for
    assert not os.path.exists(work)
    job = app.state.server.jobs._jobs[running]
    assert job.state in ("done", "failed") and job.error in (None, "the server shut down")


def _module_level_imports(path: Path) -> set[str]:
    """Modules imported when `path` is imported (its module-level statements, not functions')."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_the_rest_of_video3d_imports_without_the_web_stack():
    package = Path(video3d.__file__).parent
    web = ("starlette", "uvicorn", "python_multipart", "httpx", "video3d.serve")
    offenders = {str(path.relative_to(package)): sorted(m for m in _module_level_imports(path) if m.startswith(web))
                 for path in package.rglob("*.py") if "serve" not in path.relative_to(package).parts}
    assert {name: found for name, found in offenders.items() if found} == {}
    # the tool itself imports the web stack only when it runs, to say in one line when it is missing
    assert not any(m.startswith(web) for m in _module_level_imports(package / "cli" / "serve.py"))
