"""`electkit etcd` and `electkit lease-chaos`, run as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from tests.conftest import ELECTKIT, ROOT


def command(name: str, *args: str, **kw) -> subprocess.Popen:
    """`electkit NAME ARGS` in its own process, as a user runs it."""
    return subprocess.Popen(
        [ELECTKIT, name.replace("_", "-"), *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 0)])
def test_etcd_command_serves_until_stopped_and_reaps_etcd(tmp_path, sig, code):
    url_file = tmp_path / "url"
    proc = command("etcd", "--url-file", str(url_file))
    try:
        line = proc.stdout.readline()
        assert line.startswith("etcd at http://127.0.0.1:"), line + proc.stderr.read()
        pid = int(line.split("(pid ")[1].split(",")[0])
        assert alive(pid) and url_file.read_text().strip() == line.split()[2]
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == code, err
    finally:
        if proc.poll() is None:  # a failed test must not leave the command (and etcd) behind
            proc.kill()
        proc.communicate()
    end = time.monotonic() + 5
    while alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert not alive(pid)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--clients", "0"], "--clients: must be > 0, got 0"),
        (["--clients", "17"], "--clients 17: at most 16 client processes"),
        (["--etcd", "http://127.0.0.1:1"], "--etcd http://127.0.0.1:1: "),
    ],
)
def test_lease_chaos_refuses_bad_options_in_one_line(args, message):
    proc = command("lease_chaos", "--duration", "1", *args)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and message in err, err


def test_lease_chaos_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    proc = command("lease_chaos", "--duration", "1", "--dir", str(tmp_path))
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "not an empty folder" in err
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_etcd_command_without_a_binary_says_so_in_one_line(tmp_path):
    env = {**os.environ, "ELECTKIT_ETCD": str(tmp_path / "no-etcd")}
    proc = command("etcd", env=env)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2 and out == ""
    assert err.strip().count("\n") == 0 and "is not an executable file" in err
