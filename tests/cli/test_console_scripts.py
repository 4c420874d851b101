"""[project.scripts]: every console script resolves to a tool's main and runs after `pip install -e .`."""

import importlib
import json
import os
import site
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]


def test_every_console_script_names_a_tool_main_in_cli_or_data_prep():
    assert {"video3d-train", "video3d-predict", "video3d-model-info", "video3d-fuse-scores"} <= set(SCRIPTS)
    for name, target in SCRIPTS.items():
        module_name, _, attr = target.partition(":")
        assert name.startswith("video3d-")
        assert module_name.startswith(("video3d.cli.", "data_prep.")), target
        main = getattr(importlib.import_module(module_name), attr)
        assert callable(main) and hasattr(main, "__wrapped__"), f"{target} is not decorated with @command"


def test_each_tool_shim_runs_the_cli_main_of_the_same_name():
    for shim in sorted((ROOT / "tools").glob("*.py")):
        assert f"from video3d.cli.{shim.stem} import main" in shim.read_text(), shim


def running_interpreter_site_dirs() -> list[str]:
    """The site dirs this interpreter imports from (user site first, as `site` orders them), wherever
    video3d's dependencies were installed: a venv, a conda env, the system interpreter, a user site."""
    dirs = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    return [d for d in dirs + site.getsitepackages() if os.path.isdir(d)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A venv over the *running* interpreter's packages with this checkout pip-installed (editable) into it.

    Not `venv --system-site-packages`: inside a venv or conda env that exposes the base interpreter's
    packages, not the active ones. A .pth file in the child's site-packages adds the parent's site dirs
    with site.addsitedir, so their own .pth files (editable installs, setuptools' shim) apply too.
    """
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    child_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                check=True, capture_output=True, text=True).stdout.strip()
    Path(child_site, "_video3d_test_parent_site.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in running_interpreter_site_dirs()))
    # No build isolation, no index: the build backend is the dev extra's setuptools.
    res = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q",
                          "--no-deps", "--no-build-isolation", "--no-index", "-e", str(ROOT)],
                         capture_output=True, text=True, check=False)
    assert res.returncode == 0, f"pip install -e {ROOT} into {venv} failed:\n{res.stdout}{res.stderr}"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the install alone must do
    return venv / "bin", env


def run_script(installed, name, *args, cwd):
    bin_dir, env = installed
    return subprocess.run([str(bin_dir / name), *args], capture_output=True, text=True, cwd=cwd, env=env,
                          check=False)


def test_installed_model_info_script_prints_json_and_user_errors_exit_2(installed, tmp_path):
    res = run_script(installed, "video3d-model-info", "--cfg", DEMO, "--json", "MODEL.HEAD", "linear", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["input"] == [3, 8, 56, 56]
    res = run_script(installed, "video3d-model-info", "--cfg", DEMO, "RESNET.NO_SUCH_KEY", "1", cwd=tmp_path)
    assert res.returncode == 2
    assert res.stderr.strip().splitlines() == ["error: command line: unknown config key RESNET.NO_SUCH_KEY = 1"]


@pytest.mark.slow
def test_every_installed_console_script_prints_its_help(installed, tmp_path):
    for name in SCRIPTS:
        res = run_script(installed, name, "--help", cwd=tmp_path)
        assert res.returncode == 0, f"{name}: {res.stderr}"
        assert "usage:" in res.stdout
