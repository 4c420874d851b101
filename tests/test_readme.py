"""The README's two set-up commands are a contract; CI must run the same test command."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    quick_start = ROOT.joinpath("README.md").read_text().split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", quick_start, flags=re.S)
    return [line for block in blocks for line in block.splitlines() if line and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands_install_first():
    commands = _readme_commands()
    assert len(commands) == 2
    assert all(c.startswith('python -m pip install -e ".[dev]" && ') for c in commands)
    assert "tools/run_net.py --cfg configs/demo/" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci_lines = ROOT.joinpath(".ci", "run").read_text().splitlines()
    assert _readme_commands()[1] in ci_lines


def test_ci_runs_the_readme_test_command_again_in_a_fresh_venv():
    ci_lines = ROOT.joinpath(".ci", "run").read_text().splitlines()
    hits = [i for i, line in enumerate(ci_lines) if line == _readme_commands()[1]]
    assert len(hits) == 2, hits
    # Each ends a subshell, so a failing install fails CI (set -e ignores the left side of `&&`).
    assert all(ci_lines[i + 1] == ")" for i in hits)
    between = ci_lines[hits[0] + 1:hits[1]]
    venvs = [line for line in between if line.startswith("python -m venv ")]
    assert len(venvs) == 1 and "--system-site-packages" not in venvs[0]
    assert any(line.startswith(". ") and line.endswith('/bin/activate"') for line in between)


def test_demo_config_named_in_readme_exists():
    path = _readme_commands()[0].split("--cfg ", 1)[1].split()[0]
    assert (ROOT / path).is_file()
