"""The install contract: pins agree, one OpenCV wheel with TV-L1, the pytorchvideo alias."""

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
OPENCV_DISTS = (
    "opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless",
)


def _name(requirement: str) -> str:
    return re.split(r"[=<>!~;\[ ]", requirement, maxsplit=1)[0].strip().lower()


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        reqs += extra
    return {_name(r): r.replace(" ", "") for r in reqs}


def _conda_pip_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return {_name(r): r.replace(" ", "") for r in pip_section}


def test_environment_yml_pins_match_pyproject():
    assert _conda_pip_requirements() == _pyproject_requirements()


def test_every_dependency_is_pinned_exactly():
    for name, req in _pyproject_requirements().items():
        assert "==" in req, f"{name} is not pinned: {req}"


def test_torch_pair_is_the_local_disk_one():
    reqs = _pyproject_requirements()
    assert reqs["torch"] == "torch==2.14.1"
    assert reqs["torchvision"] == "torchvision==0.29.1"


def test_exactly_one_opencv_wheel_is_required_and_installed():
    required = [n for n in _pyproject_requirements() if n in OPENCV_DISTS]
    assert required == ["opencv-contrib-python-headless"]
    installed = []
    for dist in OPENCV_DISTS:
        try:
            metadata.version(dist)
            installed.append(dist)
        except metadata.PackageNotFoundError:
            pass
    assert installed == ["opencv-contrib-python-headless"]


def test_installed_cv2_has_tvl1():
    import cv2

    assert hasattr(cv2.optflow, "DualTVL1OpticalFlow_create")


def test_pytorchvideo_transforms_import_after_video3d():
    # A fresh interpreter, so the alias must come from `import video3d` alone.
    code = "import video3d, pytorchvideo.transforms as t; print(t.RandAugment.__name__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "RandAugment"
