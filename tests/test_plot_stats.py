"""benchmarks/plot_stats.py: a `check --stats` file drawn as a PNG; a bad line named by
file:line."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "plot_stats.py"


def synthetic_stats(levels: int = 12) -> list[dict]:
    """A run that grows level by level: ticks between levels, a level line at each end."""
    lines, t, distinct, generated = [], 0.0, 1, 1
    for depth in range(levels):
        size = int(3 * 1.8**depth) if depth < levels - 3 else int(3 * 1.8 ** (levels - depth))
        for tick in range(3):
            t += 2.5
            grown = size * (tick + 1) // 4
            lines.append(
                {"t": t, "depth": depth, "distinct": distinct + grown, "generated": generated,
                 "queue": size - grown, "rate": grown / 2.5, "rss": 40_000_000 + 90 * distinct,
                 "disk": 0, "event": "tick", "workers": 2}  # an extra key, to be ignored
            )  # fmt: skip
        distinct += size
        generated += 19 * size
        lines.append(
            {"t": t + 0.5, "depth": depth, "distinct": distinct, "generated": generated,
             "queue": 0, "rate": size / 8.0, "rss": 40_000_000 + 90 * distinct, "disk": 4096,
             "event": "level", "level_size": size}
        )  # fmt: skip
    end = dict(lines[-1], event="done", t=lines[-1]["t"] + 0.1)
    del end["level_size"]
    return lines + [end]


def write(path, records, tail: str = "\n") -> None:
    path.write_text("\n".join(json.dumps(r) for r in records) + tail)


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, timeout=120
    )


def test_writes_a_png_of_the_four_panels(tmp_path):
    import matplotlib.image as mpimg

    stats, png = tmp_path / "stats.jsonl", tmp_path / "out.png"
    write(stats, synthetic_stats())
    proc = run(stats, "-o", png, "--title", "N=3,T=3 symmetry")
    assert proc.returncode == 0, proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 30_000  # four drawn panels, not an empty canvas
    image = mpimg.imread(png)
    assert image.shape[:2] == (800, 1200)  # 12 x 8 inches at 100 dpi
    colours = {tuple(px) for px in image.reshape(-1, image.shape[2])[::97]}
    assert len(colours) > 20  # lines, bars, text: many colours, not a blank figure
    assert set(tmp_path.iterdir()) == {stats, png}  # no temporary file left behind


def test_a_run_still_writing_its_last_line_is_plotted(tmp_path):
    stats, png = tmp_path / "stats.jsonl", tmp_path / "out.png"
    records = synthetic_stats(4)
    stats.write_text("\n".join(json.dumps(r) for r in records) + '\n{"t": 31.5, "dep')
    proc = run(stats, "-o", png)
    assert proc.returncode == 0, proc.stderr
    assert f"stats.jsonl:{len(records) + 1}: an unfinished last line" in proc.stderr
    assert png.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda lines: lines.__setitem__(2, "{not json"), ":3: not JSON"),
        (lambda lines: lines.__setitem__(1, json.dumps({"t": 1.0})), ":2: missing field 'depth'"),
        (
            lambda lines: lines.__setitem__(
                3, json.dumps(dict(json.loads(lines[3]), distinct="many"))
            ),
            ":4: field 'distinct' must be an integer >= 0",
        ),
        (
            lambda lines: lines.__setitem__(0, json.dumps(dict(json.loads(lines[0]), event="x"))),
            ":1: field 'event' must be one of tick, level, done",
        ),
        (
            lambda lines: lines.__setitem__(
                3, json.dumps({k: v for k, v in json.loads(lines[3]).items() if k != "level_size"})
            ),
            ":4: a 'level' line needs 'level_size'",
        ),
        (lambda lines: lines.__setitem__(0, "[1, 2]"), ":1: expected a JSON object"),
    ],
)
def test_a_bad_line_is_named_by_file_and_line_exit_2(tmp_path, mutate, message):
    stats, png = tmp_path / "stats.jsonl", tmp_path / "out.png"
    lines = [json.dumps(r) for r in synthetic_stats(3)]
    mutate(lines)
    stats.write_text("\n".join(lines) + "\n")
    proc = run(stats, "-o", png)
    assert proc.returncode == 2
    assert proc.stderr.strip() == proc.stderr.strip().splitlines()[0]  # one line
    assert f"stats.jsonl{message}" in proc.stderr and "Traceback" not in proc.stderr
    assert not png.exists()


def test_missing_or_empty_input_and_a_bad_output_folder(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    proc = run(empty, "-o", tmp_path / "x.png")
    assert proc.returncode == 2 and "no stats lines" in proc.stderr
    proc = run(tmp_path / "nope.jsonl", "-o", tmp_path / "x.png")
    assert proc.returncode == 2 and "not a file" in proc.stderr
    write(empty, synthetic_stats(2))
    proc = run(empty, "-o", tmp_path / "no" / "x.png")
    assert proc.returncode == 2 and "does not exist" in proc.stderr
