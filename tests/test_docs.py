"""Every Python block of the README runs as it stands, in a fresh process and an empty cache."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_the_readme_has_its_examples():
    assert len(BLOCKS) >= 6   # ten lines, GELU, importance, own module, device, save and load


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_block_runs(index, tmp_path):
    env = dict(os.environ, CCLIB_CACHE=str(tmp_path / "cache"))
    env.pop("CCLIB_ENGINE", None)
    env.pop("CCLIB_DEVICE", None)
    done = subprocess.run([sys.executable, "-c", BLOCKS[index]], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"README block {index}:\n{BLOCKS[index]}\n{done.stderr[-3000:]}"
    if "run.compute" in BLOCKS[index]:
        assert "'engine': 'general'" in done.stdout
