"""Provenance that exists: every committed result names a commit that holds the code that made it."""
import json
import re
from pathlib import Path

import pytest

from cclib import report

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = [*sorted((ROOT / "paper-code" / "results").glob("*")), ROOT / "benchmarks" / "results.json",
             ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "data" / "store").glob("*.json"))]


def test_no_committed_result_names_uncommitted_code():
    named = [p.relative_to(ROOT) for p in COMMITTED if "+modified" in p.read_text()]
    assert named == [], f"results made by uncommitted code: {named}"
    for meta in (ROOT / "data" / "store").glob("trained-*.json"):
        commit = json.loads(meta.read_text())["trained_by"]["git_commit"]
        assert re.fullmatch(r"[0-9a-f]{12}", commit), (meta.name, commit)


def test_publishing_refuses_uncommitted_code(monkeypatch):
    monkeypatch.setattr(report, "uncommitted", lambda: ["src/cclib/fast.py"])
    monkeypatch.delenv(report.ALLOW_MODIFIED, raising=False)
    with pytest.raises(SystemExit, match=r"make store refused: .* uncommitted changes: src/cclib/fast.py"):
        report.require_committed("make store")
    monkeypatch.setenv(report.ALLOW_MODIFIED, "1")
    report.require_committed("make store")   # goes on, and the results say why they are unpublishable
    made = report.provenance()
    assert made["git_commit"].endswith("+modified") and "src/cclib/fast.py" in made["unpublishable"]


def test_a_clean_checkout_publishes(monkeypatch):
    monkeypatch.setattr(report, "uncommitted", lambda: [])
    report.require_committed("make notebooks")
    made = report.provenance()
    assert made["unpublishable"] is None and "+" not in (made["git_commit"] or "")
