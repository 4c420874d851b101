"""video3d-visualize: gradcam (grid PNG + mp4, one row per FFC output) and clips (grid + gifs)."""

import av
import numpy as np
import pytest
import torch
from PIL import Image

from data_prep.synthetic import generate
from tests.inference.conftest import DEMO, TINY
from video3d.cli import visualize
from video3d.config import load_config
from video3d.models import build_model
from video3d.visualize.clips import as_rgb


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("visualize")
    generate(str(root), num_train=4, num_val=2, size=32, frames=20)
    opts = [*TINY, "DATA.PATH_TO_DATA_DIR", str(root), "DATA.PATH_PREFIX", str(root),
            "DATA.CLASS_NAMES_FILE", str(root / "classnames.txt")]
    torch.manual_seed(0)
    checkpoint = root / "w.pyth"
    torch.save({"model_state": build_model(load_config(DEMO, opts)).state_dict()}, checkpoint)
    video = str(next((root / "videos").rglob("val_*.mp4")))
    return root, str(checkpoint), video, opts


def test_gradcam_writes_a_grid_and_an_overlay_video(setup, tmp_path, capsys):
    root, checkpoint, video, opts = setup
    args = ["gradcam", "--cfg", DEMO, "--checkpoint", checkpoint, "--ffc-outputs", "1,7", "--target", "grow",
            "--out", str(tmp_path), video, *opts]
    assert visualize.main(args) == 0
    out = capsys.readouterr().out
    assert "Out1: class 6" in out and "Out7: class 6" in out
    stem = video.rsplit("/", 1)[1][:-4]
    grid = Image.open(tmp_path / f"{stem}_gradcam.png")
    assert grid.size[0] > grid.size[1] > 100
    with av.open(str(tmp_path / f"{stem}_gradcam.mp4")) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 4 and frames[0].shape[1] > 3 * frames[0].shape[0]  # input | Out1 | Out7


def test_gradcam_bad_input_is_one_line(setup, tmp_path, capsys):
    root, checkpoint, video, opts = setup
    base = ["--cfg", DEMO, "--checkpoint", checkpoint, "--out", str(tmp_path), video, *opts]
    assert visualize.main(["gradcam", "--ffc-outputs", "9", *base]) == 2
    assert visualize.main(["gradcam", "--target", "no_such_class", *base]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "--ffc-outputs [9]" in err[0] and "no_such_class" in err[1]


def test_clips_shows_training_samples_with_labels(setup, tmp_path, capsys):
    root, checkpoint, video, opts = setup
    assert visualize.main(["clips", "--cfg", DEMO, "--num", "3", "--out", str(tmp_path), *opts]) == 0
    written = [line.split(" ", 1)[1] for line in capsys.readouterr().out.splitlines()]
    assert written[0].endswith("clips.png") and len(written) == 4
    gif = Image.open(written[1])
    assert gif.n_frames == 4 and min(gif.size) >= 128


def test_flow_is_colour_coded_by_direction_and_magnitude():
    still = np.full((1, 2, 2, 2), 128, dtype=np.uint8)
    assert as_rgb(still).max() == 0  # no motion is black
    right, left = still.copy(), still.copy()
    right[..., 0], left[..., 0] = 255, 0
    assert as_rgb(right).max() > 200 and not np.array_equal(as_rgb(right), as_rgb(left))


def test_gradcam_refuses_a_flow_model_in_one_line(setup):
    from video3d.errors import ConfigError
    from video3d.visualize.explain import centre_clip

    _, _, video, opts = setup
    with pytest.raises(ConfigError, match="Grad-CAM is drawn over RGB frames"):
        centre_clip(load_config(DEMO, [*opts, "DATA.MODALITY", "flow"]), video)
