"""tools/run_net.py: both override syntaxes, config.yaml, one-line user errors."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RUN_NET = str(ROOT / "tools" / "run_net.py")
DEMO = str(ROOT / "configs" / "demo" / "synthmotion_iresnet3d_ffc.yaml")
NO_JOBS = ["TRAIN.ENABLE", "False", "TEST.ENABLE", "False", "SYNTHMOTION.ENABLE", "False"]


def run(*args):
    return subprocess.run([sys.executable, RUN_NET, *args], capture_output=True, text=True, cwd=ROOT, check=False)


def test_bare_and_opts_overrides_both_apply_and_config_is_written(tmp_path):
    out = tmp_path / "run"
    res = run("--cfg", DEMO, *NO_JOBS, "SOLVER.MAX_EPOCH", "3", "--opts", "OUTPUT_DIR", str(out), "DATA.NUM_FRAMES", "4")
    assert res.returncode == 0, res.stderr
    written = yaml.safe_load((out / "config.yaml").read_text())
    assert written["SOLVER"]["MAX_EPOCH"] == 3
    assert written["DATA"]["NUM_FRAMES"] == 4
    assert written["MODEL"]["HEAD"] == "ffc"  # from the YAML file
    assert (out / "stdout.log").exists()


def test_pyslowfast_opts_only_syntax(tmp_path):
    res = run("--cfg", DEMO, "--opts", *NO_JOBS, "OUTPUT_DIR", str(tmp_path / "o"))
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "o" / "config.yaml").exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--cfg", DEMO, "SOLVER.MAX_EPOX", "3"], "unknown config key SOLVER.MAX_EPOX"),
        (["--cfg", DEMO, "DATA.NUM_FRAMES", "abc"], "DATA.NUM_FRAMES expects 'int'"),
        (["--cfg", "does/not/exist.yaml"], "config file not found: does/not/exist.yaml"),
        (["--cfg", DEMO, "MODEL.HEAD", "softmax"], "MODEL.HEAD is 'softmax'"),
        (["--cfg", DEMO, "MODEL.HEAD"], "'MODEL.HEAD' has no value"),
    ],
)
def test_user_errors_exit_2_with_one_line_and_no_traceback(args, message, tmp_path):
    res = run(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert res.stdout == ""


def test_several_cfg_files_run_one_job_each_in_order_with_the_overrides(tmp_path):
    # PySlowFast's run_net: `--cfg A.yaml B.yaml` is two jobs, not one merged config.
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text(f"_BASE_: {DEMO}\nOUTPUT_DIR: {tmp_path / 'a'}\n")
    second.write_text(f"SOLVER:\n  MAX_EPOCH: 5\nOUTPUT_DIR: {tmp_path / 'b'}\n")
    res = run("--cfg", str(first), str(second), *NO_JOBS, "SOLVER.BASE_LR", "0.25")
    assert res.returncode == 0, res.stderr
    a = yaml.safe_load((tmp_path / "a" / "config.yaml").read_text())
    b = yaml.safe_load((tmp_path / "b" / "config.yaml").read_text())
    assert (a["MODEL"]["HEAD"], a["SOLVER"]["MAX_EPOCH"], a["SOLVER"]["BASE_LR"]) == ("ffc", 40, 0.25)
    assert (b["MODEL"]["HEAD"], b["SOLVER"]["MAX_EPOCH"], b["SOLVER"]["BASE_LR"]) == ("linear", 5, 0.25)
    log = res.stdout + res.stderr
    assert log.index(f"job 1 of 2: {first}") < log.index(f"job 2 of 2: {second}")


def test_two_cfg_files_with_one_output_dir_is_one_line(tmp_path):
    res = run("--cfg", DEMO, DEMO, *NO_JOBS, "OUTPUT_DIR", str(tmp_path / "same"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines() == [
        f"error: --cfg {DEMO} and {DEMO} both write OUTPUT_DIR {tmp_path / 'same'} (one job per file: the second "
        "would resume from the first); give each file its own OUTPUT_DIR"]
    assert not (tmp_path / "same").exists()  # refused before the first job


def test_pyslowfast_launch_flags_reach_the_config_and_name_torchrun_when_a_node_has_several_gpus(tmp_path):
    out = tmp_path / "run"
    res = run("--cfg", DEMO, "--num_shards", "2", "--shard_id", "1", "--init_method", "tcp://node0:9999",
              *NO_JOBS, "NUM_GPUS", "4", "OUTPUT_DIR", str(out))
    assert res.returncode == 2
    assert res.stderr.strip().splitlines()[-1] == (
        "error: NUM_GPUS 4 with --init_method: video3d starts one process per GPU through torchrun, on each node: "
        "torchrun --nnodes 2 --node_rank 1 --rdzv_endpoint node0:9999 --nproc_per_node 4 tools/run_net.py --cfg ...")
    assert not (out / "config.yaml").exists()  # shard 1 is not rank 0: only node 0 writes the run's files


def test_several_gpus_in_one_process_without_torchrun_is_one_line_naming_torchrun(tmp_path):
    res = run("--cfg", DEMO, *NO_JOBS, "NUM_GPUS", "8", "OUTPUT_DIR", str(tmp_path / "run"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "launch with torchrun --nproc_per_node 8 tools/run_net.py" in res.stderr.strip().splitlines()[-1]
