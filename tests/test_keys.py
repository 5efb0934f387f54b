"""What a cached result is keyed on: the code that really computed it, and nothing else."""
import ast
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from cclib import cache, evaluations, sweep

PACKAGE = Path(cache.__file__).parent


@pytest.fixture
def package(tmp_path):
    """A copy of the cclib package to edit (beside a copy of the notebooks, also to edit)."""
    copy = tmp_path / "src" / "cclib"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(PACKAGE.parent.parent / "notebooks", tmp_path / "notebooks",
                    ignore=shutil.ignore_patterns("*.ipynb", ".ipynb_checkpoints"))
    return copy


def _keys(package: Path) -> dict:
    return dict(fast=sweep.run_code("fast", package), general=sweep.run_code("general", package),
                curve=cache.code_fingerprint(evaluations.CURVE_CODE, package_dir=package),
                snmf=cache.code_fingerprint(evaluations.SNMF_CODE, stop=evaluations.SNMF_STOP, package_dir=package))


def _edit(path: Path, old: str, new: str) -> None:
    source = path.read_text()
    assert old in source, f"{old!r} not in {path.name}"
    path.write_text(source.replace(old, new, 1))


def test_a_copy_has_the_same_keys(package):
    assert _keys(package) == _keys(PACKAGE)


@pytest.mark.parametrize("module", ["analysis.py", "bounds.py", "evaluate.py", "baselines.py", "reference.py",
                                    "plotting.py", "report.py", "paper_runs.py", "experiments.py", "sweep.py",
                                    "evaluations.py", "store.py", "cache.py", "parallel.py"])
def test_code_that_trains_nothing_leaves_every_trained_key(package, module):
    before = _keys(package)
    (package / module).write_text((package / module).read_text() + "\n\ndef _added():\n    return 1\n")
    after = _keys(package)
    assert after["fast"] == before["fast"] and after["general"] == before["general"]
    # ...while an evaluation or a fit is re-keyed exactly when its own code changed
    assert (after["curve"] != before["curve"]) == (module == "evaluate.py")
    assert (after["snmf"] != before["snmf"]) == (module in ("evaluate.py", "baselines.py"))


def test_the_constructions_key_only_the_runs_that_start_from_one(package):
    before = _keys(package)
    steiner = sweep.run_code("general", package, start="split_steiner_codes")
    assert steiner != before["general"]
    path = package / "constructions.py"
    path.write_text(path.read_text() + "\n\ndef _added():\n    return 1\n")
    assert _keys(package) == before                      # the random starts: not re-keyed
    assert sweep.run_code("general", package, start="split_steiner_codes") != steiner


def test_a_notebook_edit_leaves_every_key(package):
    before = _keys(package)
    notebook = package.parent.parent / "notebooks" / "fig09_snmf.py"
    notebook.write_text(notebook.read_text() + "\nprint('edited')\n")
    assert _keys(package) == before


@pytest.mark.parametrize("module, old, new", [
    ("_grads.py", "import torch\n", "import torch\n\nSCALE = 2.0\n"),            # its gradients
    ("fast.py", "MIN_SHARD = 8", "MIN_SHARD = 4"),                                 # its shard rule
])
def test_the_fast_engine_keys_the_fast_runs_only(package, module, old, new):
    before = _keys(package)
    _edit(package / module, old, new)
    after = _keys(package)
    assert after["fast"] != before["fast"]
    assert after["general"] == before["general"] and after["curve"] == before["curve"]


def test_the_general_engine_keys_the_general_runs_only(package):
    before = _keys(package)
    _edit(package / "general.py", "import torch\n", "import torch\n\nSCALE = 2.0\n")
    after = _keys(package)
    assert after["general"] != before["general"] and after["fast"] == before["fast"]


@pytest.mark.parametrize("module", ["build.py", "train.py", "models.py", "data.py", "spec.py", "_adamw.py",
                                    "mixing.py", "_checks.py"])
def test_code_both_engines_run_keys_both(package, module):
    before = _keys(package)
    (package / module).write_text((package / module).read_text() + "\n\n_ADDED = 1\n")
    after = _keys(package)
    assert after["fast"] != before["fast"] and after["general"] != before["general"]


def test_comments_docstrings_and_formatting_change_no_key(package):
    before = _keys(package)
    train = package / "train.py"
    source = train.read_text()
    _edit(train, '"""Training: one procedure', '"""Training, reworded: one procedure')
    _edit(train, "import torch\n", "import torch  # a comment\n\n")
    assert train.read_text() != source and _keys(package) == before


def test_a_new_module_counts_once_it_is_imported(package):
    before = _keys(package)
    (package / "new_kernel.py").write_text("FACTOR = 1.0\n")
    assert _keys(package) == before                      # imported by nothing: runs in no computation
    _edit(package / "fast.py", "from .models import closed_forms, set_parameters\n",
          "from .models import closed_forms, set_parameters\nfrom .new_kernel import FACTOR\n")
    imported = _keys(package)
    assert imported["fast"] != before["fast"]
    (package / "new_kernel.py").write_text("FACTOR = 2.0\n")
    assert _keys(package)["fast"] != imported["fast"]    # and then its edits count too
    # an import inside a function counts as well: it runs when the function does
    _edit(package / "general.py", "def train_general(", "def _helper():\n    from . import new_kernel\n\n\ndef train_general(")
    assert _keys(package)["general"] != before["general"]


def test_init_computes_nothing():
    """__init__.py runs on every import but is in no key: it may only name the modules."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    names = []
    for node in tree.body:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Assign):
            names += [t.id for t in node.targets]
        elif isinstance(node, ast.FunctionDef):
            names.append(node.name)
        else:
            raise AssertionError(f"__init__.py holds a {type(node).__name__} statement")
    assert sorted(names) == ["__all__", "__getattr__", "__version__"]


def test_an_analysis_edit_on_a_warm_cache_retrains_nothing(package, tmp_path):
    """End to end, in fresh processes on the edited copy: a run trained once is found again
    after analysis.py changes, and trained again after the fast engine's gradient changes."""
    folder = tmp_path / "cache"
    script = textwrap.dedent(f"""
        from cclib import experiments
        from cclib.spec import RunSpec
        stats = {{}}
        experiments.trained_many([RunSpec(seeds=[0], mixing=dict(kind="asymmetric", sigma=0.02),
                                          inputs=dict(kind="one_active"), optim=dict(steps=20))],
                                 folder={str(folder)!r}, stats=stats)
        print("trained", stats["trained"])
    """)
    env = dict(os.environ, PYTHONPATH=str(package.parent), CCLIB_WORKERS="1")

    def trained_count():
        done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True,
                              cwd=tmp_path, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"{package}" in subprocess.run([sys.executable, "-c", "import cclib; print(cclib.__file__)"],
                                              env=env, capture_output=True, text=True, cwd=tmp_path).stdout
        return int(done.stdout.split()[-1])

    assert trained_count() == 1
    (package / "analysis.py").write_text((package / "analysis.py").read_text() + "\n\ndef _added():\n    return 1\n")
    assert trained_count() == 0
    _edit(package / "_grads.py", "import torch\n", "import torch\n\nSCALE = 2.0\n")
    assert trained_count() == 1


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(textwrap.dedent(text))


def test_keys_follow_imports_into_subpackages(tmp_path):
    """A package laid out in subpackages, imported relatively at every depth and absolutely: the
    closure finds every module the root runs, and an edit of the deepest one re-keys it."""
    root = tmp_path / "cclib"
    _write(root, {
        "__init__.py": "",
        "train.py": "from . import data\n\ndef run():\n    from .engines import fast\n    return fast.step()\n",
        "data.py": "X = 1\n",
        "task.py": "Y = 2\n",
        "unrelated.py": "Z = 3\n",
        "engines/__init__.py": "ENGINES = ('fast',)\n",
        "engines/fast.py": "from ..data import X\nfrom .kernels.inner import k\n\ndef step():\n    return k() + X\n",
        "engines/kernels/__init__.py": "",
        "engines/kernels/inner.py": "from ...task import Y\n\ndef k():\n    return Y\n",
        "engines/slow.py": "import cclib.engines.kernels.inner\n",
    })
    assert set(cache.modules_of(root)) == {"train", "data", "task", "unrelated", "engines", "engines.fast",
                                           "engines.kernels", "engines.kernels.inner", "engines.slow"}
    assert cache.module_closure(["train"], package_dir=root) == [
        "data", "engines", "engines.fast", "engines.kernels", "engines.kernels.inner", "task", "train"]
    assert cache.module_closure(["engines.slow"], package_dir=root) == [
        "engines", "engines.kernels", "engines.kernels.inner", "engines.slow", "task"]
    assert cache.module_closure(["train"], stop=["engines.fast"], package_dir=root) == ["data", "engines", "train"]
    assert cache.module_closure(["train"], stop=["engines"], package_dir=root) == ["data", "train"]  # and below it
    before = cache.code_fingerprint(["train"], package_dir=root)
    (root / "unrelated.py").write_text("Z = 4\n")
    assert cache.code_fingerprint(["train"], package_dir=root) == before
    (root / "engines" / "kernels" / "inner.py").write_text("from ...task import Y\n\ndef k():\n    return Y + 1\n")
    assert cache.code_fingerprint(["train"], package_dir=root) != before
    with pytest.raises(ValueError, match="roots and stop must name modules"):
        cache.module_closure(["engines.missing"], package_dir=root)


@pytest.mark.parametrize("files, words", [
    ({"engines/fast.py": "X = 1\n"}, "a folder without __init__.py"),       # a namespace package
    ({"engines.py": "X = 1\n", "engines/__init__.py": ""}, "are both the module 'engines'"),
    ({"gone.py": "from .engines import fast\n"}, "no module of cclib"),  # its key could not follow it
])
def test_a_layout_a_key_could_miss_is_refused(tmp_path, files, words):
    root = tmp_path / "cclib"
    _write(root, {"__init__.py": "", "train.py": "from . import data\n", "data.py": "X = 1\n", **files})
    with pytest.raises(ValueError, match=words):
        cache.module_closure(["gone" if "gone.py" in files else "train"], package_dir=root)
