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


def test_demo_config_named_in_readme_exists():
    path = _readme_commands()[0].split("--cfg ", 1)[1].split()[0]
    assert (ROOT / path).is_file()
