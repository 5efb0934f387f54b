"""The generated parts of the README and docs/ are what paper-code/findings.py makes of the committed
results, the benchmark and the store."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "paper-code"))
import findings  # noqa: E402


def test_generated_blocks_are_current():
    assert sorted(p.stem for p in findings.RESULTS.glob("fig*.json")), "no committed results"
    done = subprocess.run([sys.executable, str(ROOT / "paper-code" / "findings.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_claim_of_every_result_is_a_row(tmp_path):
    data = dict(figure="fig99", provenance=dict(git_commit="abc"), claims=[
        dict(name="a | b", source="paper", verdict="holds", expected="holds", margin=3.14, margin_unit="sd", detail="x"),
        dict(name="c", source="ours", verdict="fails", expected="fails", margin=None, margin_unit="", detail="y")])
    (tmp_path / "fig99.json").write_text(json.dumps(data))
    table = findings.render(tmp_path)
    assert "| fig99 | the paper's | a \\| b | HOLDS | +3.1 sd | x |" in table
    assert "| fig99 | ours | c | FAILS (recorded) |  | y |" in table
    readme = f"intro\n{findings.START}\nold\n{findings.END}\nrest\n"
    assert findings.with_table(readme, "new") == f"intro\n{findings.START}\nnew\n{findings.END}\nrest\n"


def test_committed_results_are_paper_settings_of_the_committed_notebooks():
    notebooks = {p.stem.split("_")[0] for p in (ROOT / "notebooks").glob("fig*.ipynb")}
    for path in findings.RESULTS.glob("fig*.json"):
        data = json.loads(path.read_text())
        assert data["mode"] == "paper" and data["seed"] == 0 and path.stem in notebooks


def test_cost_table_comes_only_from_a_cold_run_of_todays_registry(tmp_path):
    from cclib import paper_runs, sweep
    every = paper_runs.registry()
    timings = dict(mode="paper", seed=0, notebooks_seconds=100.0, run={"fig06_transplant": 14.0},
                   figures={"fig06_transplant": 14.0},
                   sweep=dict(runs=len(every), trained=len(every), seconds=100.0, workers=2,
                              task_cpu_seconds=sum(sweep.expected_seconds(s) for s in every.values())))
    (tmp_path / "timings.json").write_text(json.dumps(timings))
    assert "| fig06_transplant | 2 |" in findings.costs(tmp_path)
    timings["sweep"].update(runs=len(every) - 6, trained=len(every) - 6)   # measured on another registry
    (tmp_path / "timings.json").write_text(json.dumps(timings))
    assert findings.costs(tmp_path).startswith("No cost table")
    timings["sweep"]["trained"] = 3                                       # a warm run: nothing to share out
    (tmp_path / "timings.json").write_text(json.dumps(timings))
    assert findings.costs(tmp_path) is None


def test_counts_are_read_from_the_results_and_the_registry():
    from cclib import paper_runs
    sentence = findings.counts()
    n_claims = sum(len(json.loads(p.read_text())["claims"]) for p in findings.RESULTS.glob("fig*.json"))
    assert sentence.startswith(f"{n_claims} claims in {len(list(findings.RESULTS.glob('fig*.json')))} figures")
    assert f"all {len(paper_runs.registry())} runs of the registry" in findings.store_summary()


def test_superposition_sentence_follows_the_results(tmp_path):
    fig18, fig19 = (json.loads((findings.RESULTS / f"{name}.json").read_text()) for name in ("fig18", "fig19"))
    before = findings.superposition(findings.RESULTS)
    assert "from the published initialisation it beats (b) at no p" in before
    fig19["d50_construction_p_star"] = 0.0421
    for claim in fig19["claims"]:
        if claim["name"] == "p = 0.003: the model trained init scale 0.1 beats (b)":
            claim["verdict"] = "holds"
    for claim in fig18["claims"]:
        if claim["name"] == "p = 0.1: the trained model beats (b) more non-monotone outputs than neurons":
            claim["verdict"] = "holds"
    for name, data in (("fig18", fig18), ("fig19", fig19)):
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    sentence = findings.superposition(tmp_path)
    assert ", 0.0421, " in sentence
    assert "beats (b) when trained at p = 0.003 and p = 0.01 (" in sentence
    assert "from the published initialisation it beats (b) at p = 0.1 (" in sentence
    assert findings.superposition(tmp_path / "missing").startswith("No results")
