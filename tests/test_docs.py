"""Every Python block of the README and docs/usage.md runs as it stands, in a fresh process and an
empty cache; the README stays short and its generated parts current."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", ROOT / "docs" / "usage.md"]
BLOCKS = [(page.name, block) for page in PAGES
          for block in re.findall(r"```python\n(.*?)```", page.read_text(), flags=re.S)]


def test_the_pages_have_their_examples():
    names = [name for name, _ in BLOCKS]
    # ten lines; GELU, importance, own module, device, save and load, a sweep
    assert names.count("README.md") >= 1 and names.count("usage.md") >= 6


def test_the_readme_reads_in_five_minutes():
    assert len((ROOT / "README.md").read_bytes()) < 10_000


def test_every_link_to_a_page_of_the_project_leads_somewhere():
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to {target}, which does not exist"


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block_runs(index, tmp_path):
    name, block = BLOCKS[index]
    env = dict(os.environ, CCLIB_CACHE=str(tmp_path / "cache"))
    env.pop("CCLIB_ENGINE", None)
    env.pop("CCLIB_DEVICE", None)
    script = tmp_path / "block.py"  # a file, as a reader's script or notebook has (a memo reads its source)
    script.write_text(block)
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name} block {index}:\n{block}\n{done.stderr[-3000:]}"
    if "run.compute" in block:
        assert "'engine': 'general'" in done.stdout
