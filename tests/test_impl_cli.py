"""impl/cli.py and `python -m impl`: every bad option is one line and exit 2, every good one
becomes exactly the configuration it names (in-process: quick enough for `electkit mutate`
to run on each mutant of impl/cli.py the gate lets pass)."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from impl import cli
from impl.__main__ import main
from impl.errors import ImplError

KEY = "ab" * 16  # 16 bytes: the shortest key allowed


def node_args(tmp_path: Path, *extra: str, key: str = KEY) -> argparse.Namespace:
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    parser = argparse.ArgumentParser()
    cli.configure_node(parser)
    base = ["--id", "1", "--peer", "1=127.0.0.1:7001", "--peer", "2=127.0.0.1:7002",
            "--data-dir", str(tmp_path / "d"), "--key-file", str(key_file)]
    return parser.parse_args([*base, *extra])


def test_a_good_command_line_is_the_config_it_names(tmp_path):
    config = cli.node_config(node_args(tmp_path, "--election-timeout", "150-150",
                                       "--heartbeat", "40", "--event-log-max-mb", "2",
                                       "--status-port", "65535"))
    assert config.node_id == 1 and config.addresses == {1: ("127.0.0.1", 7001),
                                                        2: ("127.0.0.1", 7002)}
    assert config.key == bytes.fromhex(KEY)
    assert config.election_timeout == (0.150, 0.150)  # low == high is allowed
    assert config.heartbeat_interval == 0.040
    assert config.event_log_max_bytes == 2 * 2**20
    assert config.status_port == 65535 and config.status_host == "127.0.0.1"
    assert config.event_log == tmp_path / "d" / "events.jsonl"
    assert cli.node_config(node_args(tmp_path)).election_timeout == (0.150, 0.300)


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        (["--peer", "3"], KEY, "expected ID=HOST:PORT"),
        (["--peer", "=127.0.0.1:1"], KEY, "expected an integer"),
        (["--peer", "1=127.0.0.1:7009"], KEY, "server 1 is given twice"),
        (["--peer", "3=127.0.0.1:0"], KEY, "must be >= 1, got 0"),
        (["--peer", "3=127.0.0.1:65536"], KEY, "must be <= 65535, got 65536"),
        (["--election-timeout", "300-150"], KEY, "low is above high"),
        (["--election-timeout", "150"], KEY, "expected LOW-HIGH"),
        (["--heartbeat", "0"], KEY, "--heartbeat: must be >= 1"),
        (["--status-port", "x"], KEY, "expected an integer, got 'x'"),
        ([], "ab" * 15, "the key must be at least 16 bytes, got 15"),
        ([], "not hex", "not a hex string"),
    ],
)
def test_bad_options_are_refused_with_what_is_wrong(tmp_path, extra, key, message):
    with pytest.raises(ImplError, match=message):
        cli.node_config(node_args(tmp_path, *extra, key=key))


def test_the_node_must_be_among_its_peers_and_the_key_file_must_exist(tmp_path):
    args = node_args(tmp_path)
    args.id = "3"
    with pytest.raises(ImplError, match="give this server's own address"):
        cli.node_config(args)
    args = node_args(tmp_path)
    args.key_file = str(tmp_path / "missing")
    with pytest.raises(ImplError, match="cannot read"):
        cli.node_config(args)


def test_run_node_says_one_line_and_exits_2(tmp_path, capsys):
    assert cli.run_node(node_args(tmp_path, "--election-timeout", "9-1")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --election-timeout '9-1'") and err.count("\n") == 1


def test_say_writes_one_whole_line(capsys):
    cli._say("node 1: up")
    assert capsys.readouterr().out == "node 1: up\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],  # a command is required
        ["node", "--peer", "1=127.0.0.1:1", "--data-dir", "d", "--key-file", "k"],  # no --id
        ["node", "--id", "1", "--data-dir", "d"],  # no --key-file
        ["node", "--id", "1", "--key-file", "k"],  # no --data-dir
        ["cluster", "--dir", "d"],  # no --nodes
        ["cluster", "--nodes", "3"],  # no --dir
        ["cluster", "--nodes", "3", "--dir", "d", "--bogus"],
    ],
)
def test_python_m_impl_refuses_a_bad_command_line_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: python -m impl") and err.count("\n") == 1


def test_both_commands_take_the_timing_options():
    for command in ("node", "cluster"):
        parser = argparse.ArgumentParser()
        (cli.configure_node if command == "node" else cli.configure_cluster)(parser)
        options = {a for action in parser._actions for a in action.option_strings}
        assert {"--election-timeout", "--heartbeat"} <= options, command
