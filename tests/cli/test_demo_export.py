"""video3d-demo and video3d-export: outputs, exported files accepted by demo and predict, and
bad input as one line with a non-zero exit code."""

import json

import pytest
import torch

from tests.inference.conftest import DEMO, TINY, write_video
from video3d.cli import demo, export, predict
from video3d.config import load_config
from video3d.models import build_model


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo_cli")
    names = root / "classnames.txt"
    names.write_text("".join(f"class_{k}\n" for k in range(8)))
    cfg = load_config(DEMO, [*TINY, "DATA.CLASS_NAMES_FILE", str(names)])
    torch.manual_seed(0)
    checkpoint = root / "weights.pyth"
    torch.save({"model_state": build_model(cfg).state_dict()}, checkpoint)
    other = root / "other.pyth"
    cfg_linear = load_config(DEMO, [*TINY, "MODEL.HEAD", "linear", "RESNET.STEM_WIDTH", "16"])
    torch.save({"model_state": build_model(cfg_linear).state_dict()}, other)
    video = write_video(root / "-clip one.mp4", 24)
    return {"root": root, "ckpt": str(checkpoint), "other": str(other), "video": video,
            "opts": [*TINY, "DATA.CLASS_NAMES_FILE", str(names)]}


def _demo(files, checkpoint, out, *extra, overrides=()):
    return demo.main(["--cfg", DEMO, "--checkpoint", checkpoint, "--out", str(out), *extra, files["video"],
                      *files["opts"], *overrides])


def _one_error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "Traceback" not in err[0], err
    return err[0]


def test_demo_writes_its_three_files_and_names_classes(files, tmp_path, capsys):
    assert _demo(files, files["ckpt"], tmp_path / "out", "--topk", "2") == 0
    out = capsys.readouterr().out
    assert "windows" in out and "x real time" in out
    lines = [json.loads(line) for line in (tmp_path / "out" / "windows.jsonl").read_text().splitlines()]
    assert len(lines) == 5 and [t["name"][:6] for t in lines[0]["topk"]] == ["class_", "class_"]
    assert (tmp_path / "out" / "annotated.mp4").stat().st_size > 0 and (tmp_path / "out" / "timeline.png").exists()


def test_export_then_demo_and_predict_run_the_onnx_and_torchscript_files(files, tmp_path, capsys):
    reference = tmp_path / "eager"
    # the exported files are float32, so the eager reference is too (whatever auto picks on this CPU)
    assert _demo(files, files["ckpt"], reference, overrides=("TEST.MIXED_PRECISION", "fp32")) == 0
    expected = [json.loads(x) for x in (reference / "windows.jsonl").read_text().splitlines()]
    for fmt, name in (("onnx", "m.onnx"), ("torchscript", "m.pt")):
        path = str(tmp_path / name)
        assert export.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--format", fmt, "--out", path,
                            *files["opts"]]) == 0
        assert "ok" in capsys.readouterr().out
        assert _demo(files, path, tmp_path / fmt) == 0
        capsys.readouterr()
        got = [json.loads(x) for x in (tmp_path / fmt / "windows.jsonl").read_text().splitlines()]
        assert [[t["class"] for t in w["topk"]] for w in got] == [[t["class"] for t in w["topk"]] for w in expected]
        assert [w["vote"] for w in got] == [w["vote"] for w in expected]
        for g, e in zip(got, expected, strict=True):
            assert [t["score"] for t in g["topk"]] == pytest.approx([t["score"] for t in e["topk"]], abs=1e-4)
        assert predict.main(["--cfg", DEMO, "--checkpoint", path, "--json", files["video"], *files["opts"]]) == 0
        assert json.loads(capsys.readouterr().out)[0]["error"] is None


def test_bad_inputs_give_one_line_and_a_nonzero_exit(files, tmp_path, capsys):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    assert demo.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--out", str(tmp_path / "o"), str(empty),
                      *files["opts"]]) == 2
    assert "empty.mp4" in _one_error_line(capsys)
    assert _demo(files, files["other"], tmp_path / "o") == 2
    assert "does not fit the model" in _one_error_line(capsys)
    (tmp_path / "file").write_text("x")
    assert _demo(files, files["ckpt"], tmp_path / "file") == 2
    assert "is a file" in _one_error_line(capsys)
    onnx_path = str(tmp_path / "m.onnx")
    assert export.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--format", "onnx", "--out", onnx_path,
                        *files["opts"]]) == 0
    capsys.readouterr()
    assert demo.main(["--cfg", DEMO, "--checkpoint", onnx_path, "--out", str(tmp_path / "o2"), files["video"],
                      *files["opts"], "DATA.TEST_CROP_SIZE", "40"]) == 2
    assert "takes clips of shape [3, 4, 32, 32]" in _one_error_line(capsys)


def test_demo_of_a_cut_stream_exits_1_and_keeps_a_playable_video(files, tmp_path, capsys):
    from tests.inference.conftest import write_faststart_video

    whole = write_faststart_video(tmp_path / "whole.mp4", 60)
    data = open(whole, "rb").read()
    (tmp_path / "cut.mp4").write_bytes(data[: len(data) * 2 // 3])
    assert demo.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--out", str(tmp_path / "o"),
                      str(tmp_path / "cut.mp4"), *files["opts"]]) == 1
    assert "decoding stopped after frame" in _one_error_line(capsys)
    import av

    with av.open(str(tmp_path / "o" / "annotated.mp4")) as container:
        assert 0 < sum(1 for _ in container.decode(video=0)) < 60


def test_class_names_travel_with_the_checkpoint_and_the_exported_file(files, tmp_path, capsys, monkeypatch):
    stored = {"model_state": torch.load(files["ckpt"], weights_only=True)["model_state"],
              "class_names": [f"stored_{k}" for k in range(8)]}
    checkpoint = str(tmp_path / "named.pyth")
    torch.save(stored, checkpoint)
    no_file = [*TINY, "DATA.CLASS_NAMES_FILE", ""]
    base = ["--cfg", DEMO, "--checkpoint"]
    assert demo.main([*base, checkpoint, "--out", str(tmp_path / "d"), files["video"], *no_file]) == 0
    first = json.loads((tmp_path / "d" / "windows.jsonl").read_text().splitlines()[0])
    assert first["topk"][0]["name"].startswith("stored_")
    assert "stored_" in (tmp_path / "d" / "segments.csv").read_text()
    # export copies them into the file's note; the exported file names the classes on its own
    onnx_path = str(tmp_path / "named.onnx")
    assert export.main([*base, checkpoint, "--format", "onnx", "--out", onnx_path, *no_file]) == 0
    assert "8 class names" in capsys.readouterr().out
    assert predict.main([*base, onnx_path, "--json", files["video"], *no_file]) == 0
    assert json.loads(capsys.readouterr().out)[0]["top5"][0]["name"].startswith("stored_")
    # a relative names file read from another folder: the stored names, else an error (not class numbers)
    monkeypatch.chdir(tmp_path)
    missing = [*TINY, "DATA.CLASS_NAMES_FILE", "data/classnames.txt"]
    assert demo.main([*base, checkpoint, "--out", str(tmp_path / "e"), files["video"], *missing]) == 0
    assert "stored_" in (tmp_path / "e" / "segments.csv").read_text()
    capsys.readouterr()
    assert demo.main([*base, files["ckpt"], "--out", str(tmp_path / "f"), files["video"], *missing]) == 2
    line = _one_error_line(capsys)
    assert "DATA.CLASS_NAMES_FILE data/classnames.txt not found (relative to the current folder" in line
    assert not (tmp_path / "f").exists()


def test_double_dash_ends_the_options_and_a_failed_run_leaves_no_empty_folder(files, tmp_path, capsys):
    dashed = tmp_path / "--odd name.mp4"
    dashed.write_bytes(open(files["video"], "rb").read())
    assert demo.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--out", str(tmp_path / "o"), "--no-audio",
                      "--", str(dashed), *files["opts"]]) == 0
    assert "wrote" in capsys.readouterr().out and (tmp_path / "o" / "segments.json").is_file()
    assert demo.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--out", str(tmp_path / "bad"), "--",
                      str(tmp_path / "missing.mp4"), *files["opts"]]) == 2
    assert "missing.mp4" in _one_error_line(capsys) and not (tmp_path / "bad").exists()


def test_gradcam_in_the_demo_needs_the_checkpoint(files, tmp_path, capsys):
    assert _demo(files, files["ckpt"], tmp_path / "cam", "--gradcam", "--layer", "layer3") == 0
    assert (tmp_path / "cam" / "annotated.mp4").is_file()
    capsys.readouterr()
    path = str(tmp_path / "m.pt")
    assert export.main(["--cfg", DEMO, "--checkpoint", files["ckpt"], "--format", "torchscript", "--out", path,
                        *files["opts"]]) == 0
    capsys.readouterr()
    assert _demo(files, path, tmp_path / "cam2", "--gradcam") == 2
    assert "--gradcam needs gradients" in _one_error_line(capsys) and not (tmp_path / "cam2").exists()
