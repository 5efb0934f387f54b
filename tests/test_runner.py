"""The batch runner: argument errors, staged outputs, interruption, and the results index."""
import json
import os
import re
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
deadline = time.time() + 60
while os.path.exists("SLOW-{fig}") and time.time() < deadline:
    time.sleep(0.1)
claims = report.Claims(mode)
claims.ours.add("it ran", True, "yes")
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
    (["--sweep-only", "--inplace"], "--sweep-only trains the registry's runs of the project's own notebooks"),
])
def test_bad_flags_exit_2_with_one_line(args, message):
    done = _run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


class _Index(HTMLParser):
    def __init__(self):
        super().__init__()
        self.images, self.sections, self.claims, self.contents, self._in_li = [], [], [], [], False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "img":
            self.images.append(attrs["src"])
        elif tag == "section":
            self.sections.append(attrs["id"])
        elif tag == "a" and attrs.get("href", "").startswith("#") and not self.sections:
            self.contents.append(attrs["href"][1:])   # the table of contents, before the sections
        self._in_li = tag == "li"

    def handle_endtag(self, tag):
        self._in_li = False

    def handle_data(self, data):
        if self._in_li and data.strip() and self.sections:
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
    # a smoke run's verdicts are shown as such, never as a plain HOLDS or FAILS
    assert index.claims == ["holds (quick: not meaningful): it ran"] * 2
    assert index.contents == ["fig01", "fig02"]   # a table of contents first
    page = (out / "index.html").read_text()
    assert page.count("<span class='source ours'>our claim</span>") == 2   # whose claim, beside each
    assert "Smoke test (mode quick): 2 claims in 2 figures" in page
    data = json.loads((out / "fig02.json").read_text())
    assert data["answer"] == 42 and data["provenance"]["torch"] and data["provenance"]["cpu"]
    assert data["claims"] == [dict(name="it ran", source="ours", verdict="holds", holds=True, expected="holds",
                                   margin=None, margin_unit="", detail="yes")]
    assert "fig02  holds (quick: not meaningful)  [ours] it ran" in done.stdout
    assert all(p.stat().st_mode & 0o044 == 0o044 for p in out.iterdir() if p.is_file())

    # a run of one figure keeps the others in the index
    done = _run("--notebooks", str(notebooks), "--out", str(out), "--mode", "quick", "--only", "fig02")
    assert done.returncode == 0, done.stdout + done.stderr
    index = _Index()
    index.feed((out / "index.html").read_text())
    assert index.sections == ["fig01", "fig02"]

    # an interrupted run leaves nothing partial behind, and the next run completes
    out2 = tmp_path / "out2"
    (notebooks / "SLOW-fig01").write_text("")
    # A shell's background job (CI may run the tests as one) starts with SIGINT ignored, and an
    # ignored signal stays ignored across exec: give the runner the default so Ctrl-C reaches it.
    proc = subprocess.Popen(RUNNER + ["--notebooks", str(notebooks), "--out", str(out2), "--only", "fig01",
                                      "--progress-every", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    staged = out2 / ".staging-fig01_test" / "fig01.png"
    deadline = time.time() + 60
    while not staged.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert staged.exists(), "the notebook never started"
    time.sleep(1.5)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group
    printed, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    # live progress: which notebook runs, at which of its code cells, for how long
    assert re.search(r"running: fig01_test cell 2 of 2, \d+ s", printed), printed
    assert sorted(p.name for p in out2.iterdir()) == []
    (notebooks / "SLOW-fig01").unlink()
    done = _run("--notebooks", str(notebooks), "--out", str(out2), "--only", "fig01")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {"fig01.png", "fig01.pdf", "fig01.json", "fig01_test.ipynb", "index.html"} <= {p.name for p in out2.iterdir()}


def _slow_run(notebooks: Path, out: Path, figures=("fig01",), stdout=subprocess.PIPE):
    """Start the runner on notebooks that wait while SLOW-<fig> exists; return once all are staged."""
    for fig in figures:
        (notebooks / f"SLOW-{fig}").write_text("")
    proc = subprocess.Popen(RUNNER + ["--notebooks", str(notebooks), "--out", str(out), "--jobs", "2",
                                      "--only", *figures],
                            stdout=stdout, stderr=subprocess.PIPE, text=True, start_new_session=True)
    staged = [out / f".staging-{fig}_test" / f"{fig}.png" for fig in figures]
    deadline = time.time() + 60
    while not all(p.exists() for p in staged) and time.time() < deadline:
        time.sleep(0.2)
    assert all(p.exists() for p in staged), "the notebooks never started"
    return proc


def _processes_in(folder: Path) -> list:
    """Processes still running from ``folder`` (papermill starts each kernel there) or naming it."""
    import psutil
    found = []
    for p in psutil.process_iter(["cmdline", "cwd"]):
        try:
            if p.info["cwd"] == str(folder) or any(str(folder) in part for part in p.info["cmdline"] or []):
                found.append(p)
        except psutil.Error:
            pass
    return found


@pytest.mark.parametrize("how", ["SIGTERM", "SIGHUP", "closed pipe"])
def test_any_stop_ends_the_kernels_and_leaves_nothing(tmp_path, how):
    notebooks = _notebooks(tmp_path / "nbs")
    out = tmp_path / "out"
    if how == "closed pipe":  # as in make_figures.py | head -3: the reader goes away
        read, write = os.pipe()
        proc = _slow_run(notebooks, out, ("fig01", "fig02"), stdout=write)
        os.close(write)
        os.close(read)
        (notebooks / "SLOW-fig01").unlink()  # fig01 ends; the runner's next line meets the closed pipe
    else:
        proc = _slow_run(notebooks, out, ("fig01", "fig02"))
        proc.send_signal(getattr(signal, how))
    proc.communicate(timeout=90)
    assert proc.returncode == 130
    deadline = time.time() + 30
    while _processes_in(notebooks) and time.time() < deadline:
        time.sleep(0.5)
    assert _processes_in(notebooks) == []
    assert not any(p.name.startswith(".staging") for p in out.iterdir())


def test_failed_notebook_is_kept_with_its_cell_named(tmp_path):
    notebooks = _notebooks(tmp_path / "nbs")
    nb = nbformat.read(str(notebooks / "fig01_test.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('broken on purpose')"))
    nbformat.write(nb, str(notebooks / "fig01_test.ipynb"))
    done = _run("--notebooks", str(notebooks), "--out", str(tmp_path / "out"), "--only", "fig01")
    assert done.returncode == 1
    line = next(l for l in done.stdout.splitlines() if "FAILED in cell" in l)
    assert "`raise RuntimeError('broken on purpose')`" in line and "RuntimeError: broken on purpose" in line
    kept = Path(line.rsplit(" in ", 1)[1].strip()) / "fig01_test.failed.ipynb"
    assert "broken on purpose" in kept.read_text()


def test_inplace_notebooks_carry_no_papermill_traces(tmp_path):
    notebooks = _notebooks(tmp_path / "nbs")
    done = _run("--notebooks", str(notebooks), "--out", str(tmp_path / "out"), "--only", "fig01",
                "--inplace")
    assert done.returncode == 0, done.stdout + done.stderr
    text = (notebooks / "fig01_test.ipynb").read_text()
    assert str(tmp_path) not in text and "papermill" not in text
    nb = json.loads(text)
    assert not [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    # the parameters cell is what ran: --inplace refuses settings other than its defaults
    refused = _run("--notebooks", str(notebooks), "--out", str(tmp_path / "out"), "--only", "fig01",
                   "--inplace", "--mode", "quick")
    assert refused.returncode == 2 and "--inplace" in refused.stderr


def test_the_sweep_trains_every_run_and_the_notebooks_train_nothing(tmp_path):
    """Stage 1 trains the registry's runs of the chosen figures; stage 2 executes the notebooks
    with $CCLIB_CACHE_ONLY, so a run they use that the sweep did not train fails them."""
    env = dict(os.environ, CCLIB_CACHE=str(tmp_path / "cache"))
    out = tmp_path / "out"
    command = RUNNER + ["--mode", "quick", "--only", "fig06", "fig11", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    sweep = json.loads((out / "timings.json").read_text())["sweep"]
    assert (sweep["runs"], sweep["trained"], sweep["cached"]) == (7, 7, 0)  # 2 + 5 runs
    assert 0 < sweep["core_use"] <= 1.05
    assert "sweep: 7 runs trained, 0 read from the store or the cache" in done.stdout
    # again with --sweep-only: the same runs read from the cache, and no notebook executed
    only_out = tmp_path / "only"
    again = subprocess.run(RUNNER + ["--mode", "quick", "--only", "fig06", "fig11", "--out", str(only_out),
                                     "--sweep-only"], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "sweep: 0 runs trained, 7 read from the store or the cache" in again.stdout
    assert not list(only_out.iterdir()) and "started" not in again.stdout


def test_the_index_opens_with_the_counts_and_a_table_of_contents(tmp_path):
    """At paper settings, index.html starts with every verdict counted (the paper's claims and
    ours apart) and a contents line per figure with its own counts."""
    sys.path.insert(0, str(ROOT / "paper-code"))
    import make_figures

    def claim(name, verdict, source):
        return dict(name=name, source=source, verdict=verdict, holds=verdict == "holds", expected=verdict,
                    margin=None, margin_unit="", detail="")
    out = tmp_path / "out"
    out.mkdir()
    for fig, claims in (("fig01", [claim("a", "holds", "paper"), claim("b", "fails", "ours")]),
                        ("fig02", [claim("c", "holds", "paper"), claim("d", "inconclusive", "paper")])):
        (out / f"{fig}.json").write_text(json.dumps(dict(figure=fig, mode="paper", seed=0, claims=claims)))
    page = make_figures.write_index(out, ROOT / "notebooks", {}).read_text()
    head = page.split("<section", 1)[0]
    assert "<b>4 claims in 2 figures</b>: <span class='holds'>2 hold</span>, <span class='fails'>1 fails</span>, " \
           "<span class='inconclusive'>1 inconclusive</span>" in head
    assert "Of the paper's claims, 3: <span class='holds'>2 hold</span>, <span class='inconclusive'>" in head
    assert "Of our claims, 1: <span class='fails'>1 fails</span>" in head
    index = _Index()
    index.feed(page)
    assert index.contents == ["fig01", "fig02"] and index.sections == ["fig01", "fig02"]
    assert "Fig. 1" in head and "Fig. 2" in head   # the contents name each figure by its title
    assert page.count("<span class='source paper'>the paper's claim</span>") == 3


def test_one_kernel_runs_its_notebooks_in_turn_each_as_if_fresh(tmp_path):
    """With one job both notebooks run in one kernel (the start-up is paid once), and the second
    finds nothing of the first: no names, no open figures, the style of a fresh kernel."""
    notebooks = _notebooks(tmp_path / "nbs")
    probe = ('import os, torch, matplotlib, matplotlib.pyplot as plt\n'
             'print("pid", os.getpid())\n'
             'print("leftover", "left_here" in globals(), any(n in globals() for n in ("_m", "_p", "_t", "_o")), '
             'len(plt.get_fignums()), matplotlib.rcParams["lines.linewidth"])\n'
             'left_here = 1\nplt.figure()\nmatplotlib.rcParams["lines.linewidth"] = 7.0\ntorch.rand(5)')
    for fig in ("fig01", "fig02"):
        nb = nbformat.read(str(notebooks / f"{fig}_test.ipynb"), as_version=4)
        nb.cells.insert(2, nbformat.v4.new_code_cell(probe))
        nbformat.write(nb, str(notebooks / f"{fig}_test.ipynb"))
    out = tmp_path / "out"
    done = _run("--notebooks", str(notebooks), "--out", str(out), "--jobs", "1")
    assert done.returncode == 0, done.stdout + done.stderr
    printed = {}
    for fig in ("fig01", "fig02"):
        nb = nbformat.read(str(out / f"{fig}_test.ipynb"), as_version=4)
        printed[fig] = "".join(o.get("text", "") for o in nb.cells[3].outputs).splitlines()
    assert printed["fig01"][0] == printed["fig02"][0]                  # the same kernel process
    assert printed["fig01"][1:] == printed["fig02"][1:]                # and as fresh as the first
    assert printed["fig02"][1].startswith("leftover False False 0 ")
    counts = [[c.execution_count for c in nbformat.read(str(out / f"{fig}_test.ipynb"), as_version=4).cells
               if c.cell_type == "code"] for fig in ("fig01", "fig02")]
    assert counts[0] == counts[1] and counts[0][0] == 1                  # cells counted from 1 in each
    assert all(not c.outputs for fig in ("fig01", "fig02")                # and no word of the reset
               for c in nbformat.read(str(out / f"{fig}_test.ipynb"), as_version=4).cells[1:3])


def test_a_worker_that_died_before_its_first_notebook_fails_that_notebook_not_the_run(tmp_path):
    """Its stdin is a broken pipe: giving it a name must not read as the run's own output closing
    (an interrupt, 130); the runner's loop then finds the worker dead and fails the notebook."""
    import importlib.util
    import types

    spec = importlib.util.spec_from_file_location("make_figures_module", ROOT / "paper-code" / "make_figures.py")
    runner = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(runner)
    dead = subprocess.Popen([sys.executable, "-c", "pass"], stdin=subprocess.PIPE, text=True)
    dead.wait()
    worker = types.SimpleNamespace(proc=dead, name=None, stage=None, t0=0.0)
    args = types.SimpleNamespace(out=tmp_path, chosen=["fig01_test"], mode="paper")
    runner._give(worker, ["fig01_test"], args, 0, [worker])
    assert worker.name == "fig01_test" and worker.proc.poll() is not None
