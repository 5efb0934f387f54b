"""The batch runner: argument errors, staged outputs, interruption, and the results index."""
import json
import os
import signal
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
RUNNER = [sys.executable, str(ROOT / "paper-code" / "make_figures.py")]

BODY = '''
import json, os, time, pathlib
from cclib import report
out = report.check_parameters(mode, seed, out_dir)
(out / "{fig}.png").write_bytes(b"png")
(out / "{fig}.pdf").write_bytes(b"pdf")
if os.path.exists("SLOW"):
    time.sleep(60)
claims = report.Claims(mode)
claims.add("it ran", True, "yes")
claims.finish()
report.write_json(out, "{fig}", mode, seed, claims, answer=42)
'''


def _notebooks(folder: Path) -> Path:
    folder.mkdir()
    for fig in ("fig01", "fig02"):
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {fig} — a test figure\n\nIt checks the runner."),
                    nbformat.v4.new_code_cell('mode = "paper"\nseed = 0\nout_dir = "."',
                                              metadata={"tags": ["parameters"]}),
                    nbformat.v4.new_code_cell(BODY.format(fig=fig))]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nbformat.write(nb, folder / f"{fig}_test.ipynb")
    return folder


def _run(*args, **kw):
    return subprocess.run(RUNNER + list(args), capture_output=True, text=True, **kw)


@pytest.mark.parametrize("args, message", [
    (["--mode", "fast"], "--mode must be one of paper, quick, got 'fast'"),
    (["--only", "fig99"], "--only got unknown figure 'fig99'; allowed:"),
    (["--out", "/no/such/folder/out"], "--out's parent folder must exist"),
    (["--seed", "-3"], "--seed must be an integer >= 0, got '-3'"),
])
def test_bad_flags_exit_2_with_one_line(args, message):
    done = _run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


class _Index(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.sections, self.claims, self._in_li = [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "section":
            self.sections.append(attrs["id"])
        self._in_li = tag == "li"

    def handle_endtag(self, tag):
        self._in_li = False

    def handle_data(self, data):
        if self._in_li and data.strip():
            self.claims.append(data.strip())


def test_run_stage_index_and_interrupt(tmp_path):
    notebooks = _notebooks(tmp_path / "nbs")
    out = tmp_path / "out"
    # a clean run: every figure's files, and an index that names only files that exist
    done = _run("--notebooks", str(notebooks), "--out", str(out), "--mode", "quick")
    assert done.returncode == 0, done.stdout + done.stderr
    index = _Index()
    index.feed((out / "index.html").read_text())
    assert index.sections == ["fig01", "fig02"]
    assert all((out / src).exists() for src in index.images) and len(index.images) == 2
    assert index.claims == ["HOLDS: it ran", "HOLDS: it ran"]
    assert json.loads((out / "fig02.json").read_text())["answer"] == 42
    assert "fig02  HOLDS  it ran" in done.stdout

    # an interrupted run leaves nothing partial behind, and the next run completes
    out2 = tmp_path / "out2"
    (notebooks / "SLOW").write_text("")
    # A shell's background job (CI may run the tests as one) starts with SIGINT ignored, and an
    # ignored signal stays ignored across exec: give the runner the default so Ctrl-C reaches it.
    proc = subprocess.Popen(RUNNER + ["--notebooks", str(notebooks), "--out", str(out2), "--only", "fig01"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    staged = out2 / ".staging-fig01_test" / "fig01.png"
    deadline = time.time() + 60
    while not staged.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert staged.exists(), "the notebook never started"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert sorted(p.name for p in out2.iterdir()) == []
    (notebooks / "SLOW").unlink()
    done = _run("--notebooks", str(notebooks), "--out", str(out2), "--only", "fig01")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {"fig01.png", "fig01.pdf", "fig01.json", "fig01_test.ipynb", "index.html"} <= {p.name for p in out2.iterdir()}


def test_inplace_notebooks_name_no_path_of_this_machine(tmp_path):
    notebooks = _notebooks(tmp_path / "nbs")
    done = _run("--notebooks", str(notebooks), "--out", str(tmp_path / "out"), "--mode", "quick",
                "--only", "fig01", "--inplace")
    assert done.returncode == 0, done.stdout + done.stderr
    text = (notebooks / "fig01_test.ipynb").read_text()
    assert str(tmp_path) not in text
    nb = json.loads(text)
    injected = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    assert len(injected) == 1 and 'out_dir = "../paper-code/output"\n' in injected[0]["source"]
    assert nb["metadata"]["papermill"]["parameters"]["out_dir"] == "../paper-code/output"
    assert 'mode = "quick"\n' in injected[0]["source"]
