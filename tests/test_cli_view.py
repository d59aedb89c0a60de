"""`electkit view`: a self-contained HTML page of a trace."""

from __future__ import annotations

import subprocess
from html.parser import HTMLParser

from tests.conftest import ELECTKIT, ROOT

TRACE = ROOT / "traces" / "raft_election" / "variants" / "volatile_vote-N3-T2.itf.json"


class Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ELECTKIT, "view", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
    )


def test_page_shows_every_step_and_server_and_needs_no_network(tmp_path):
    page = tmp_path / "page.html"
    proc = run(str(TRACE), "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    html = Collect()
    html.feed(page.read_text())
    rows = [a for t, a in html.tags if t == "tr" and a.get("id", "").startswith("step-")]
    assert [r["id"] for r in rows] == [f"step-{i}" for i in range(8)]  # initial + 7 steps
    text = " ".join(html.text)
    for s in (1, 2, 3):
        assert f"server {s}" in text
    assert "Restart(s=3)" in text and "voted_for[3]: 1 -> none" in text
    assert any(t == "svg" for t, _ in html.tags)
    external = [a for t, a in html.tags for k in ("src", "href") if a.get(k, "").startswith("http")]
    assert external == [] and not any(t in ("script", "link", "img") for t, _ in html.tags)


def test_bad_trace_and_bad_output_are_one_line_exit_2(tmp_path):
    missing = run(str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and len(missing.stderr.strip().splitlines()) == 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    unwritable = run(str(TRACE), "-o", str(blocker / "page.html"))
    assert unwritable.returncode == 2 and "cannot write" in unwritable.stderr
