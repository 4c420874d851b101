"""video3d.cli.base: --cfg with several files, both override forms, the one-line error wrapper."""

import pytest

from video3d.cli.base import (
    command,
    config_parser,
    load_cfg,
    parse_config_args,
    split_cfg_files,
    split_overrides,
)
from video3d.errors import ConfigError


def test_cfg_takes_yaml_files_until_the_first_other_token():
    argv = ["--cfg", "a.yaml", "b.YML", "SOLVER.BASE_LR", "0.1", "--cfg=c.yaml", "--json"]
    assert split_cfg_files(argv) == (["a.yaml", "b.YML", "c.yaml"], ["SOLVER.BASE_LR", "0.1", "--json"])
    assert split_cfg_files(["--cfg", "config-without-suffix", "x.yaml"]) == (["config-without-suffix", "x.yaml"], [])


def test_bare_and_opts_overrides_keep_their_order():
    parser = config_parser("doc")
    args, rest = parse_config_args(parser, ["--cfg", "a.yaml", "DATA.NUM_FRAMES", "4", "--opts", "RNG_SEED", "-3"])
    assert args.cfg_files == ["a.yaml"] and args.opts
    assert rest == ["DATA.NUM_FRAMES", "4", "RNG_SEED", "-3"]


def test_positionals_end_at_the_first_config_key():
    assert split_overrides(["v1.mp4", "-odd name.mp4", "TEST.NUM_ENSEMBLE_VIEWS", "2"]) == (
        ["v1.mp4", "-odd name.mp4"], ["TEST.NUM_ENSEMBLE_VIEWS", "2"])


def test_double_dash_ends_the_options():
    parser = config_parser("doc")
    parser.add_argument("--json", action="store_true")
    args, rest = parse_config_args(parser, ["--cfg", "a.yaml", "--json", "--", "--odd.mp4", "--cfg", "DATA.NUM_FRAMES",
                                            "4"])
    assert args.cfg_files == ["a.yaml"] and args.json
    assert rest == ["--odd.mp4", "--cfg", "DATA.NUM_FRAMES", "4"]  # after --, nothing is an option


def test_later_config_files_win_and_overrides_win_over_files(tmp_path):
    first, second = tmp_path / "first.yaml", tmp_path / "second.yaml"
    first.write_text("SOLVER:\n  MAX_EPOCH: 3\n  BASE_LR: 0.5\n")
    second.write_text("SOLVER:\n  MAX_EPOCH: 7\n")
    args, rest = parse_config_args(config_parser("doc"), ["--cfg", str(first), str(second), "SOLVER.BASE_LR", "0.25"])
    cfg = load_cfg(args, rest)
    assert (cfg.SOLVER.MAX_EPOCH, cfg.SOLVER.BASE_LR) == (7, 0.25)


def test_missing_cfg_and_unknown_flags_are_argparse_errors(capsys):
    for argv in (["DATA.NUM_FRAMES", "4"], ["--cfg", "a.yaml", "--no-such-flag"]):
        with pytest.raises(SystemExit) as exc:
            parse_config_args(config_parser("doc"), argv)
        assert exc.value.code == 2
    assert "--no-such-flag" in capsys.readouterr().err


def test_command_turns_user_errors_into_one_line_and_exit_2(capsys):
    @command
    def tool(argv):
        raise ConfigError(f"bad value {argv[0]}")

    assert tool(["x"]) == 2
    assert capsys.readouterr().err == "error: bad value x\n"


def test_command_reads_sys_argv_when_called_without_arguments(monkeypatch):
    @command
    def tool(argv):
        return len(argv)

    monkeypatch.setattr("sys.argv", ["prog", "a", "b"])
    assert tool() == 2


def test_command_lets_bugs_keep_their_traceback():
    @command
    def tool(argv):
        raise RuntimeError("a bug")

    with pytest.raises(RuntimeError):
        tool([])
