"""A notebook run by papermill with a bad parameter stops in its first cell, naming it."""
from pathlib import Path

import nbformat
import papermill as pm
import pytest

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "fig03_input_output.ipynb"


@pytest.mark.parametrize("parameters, message", [
    (dict(mode="fast"), "mode must be one of 'paper', 'quick'; got 'fast'"),
    (dict(seed=-1), "seed must be an integer in [0, inf], got -1"),
])
def test_bad_parameter_stops_the_first_cell(tmp_path, parameters, message):
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(NOTEBOOK), str(tmp_path / "out.ipynb"), cwd=str(NOTEBOOK.parent),
                            parameters=dict(out_dir=str(tmp_path), **parameters), progress_bar=False,
                            kernel_name="python3")
    assert message in str(err.value)
    # the failing cell is the first code cell after the parameters (and papermill's injected cell)
    executed = nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    code = [c for c in executed.cells if c.cell_type == "code"]
    failing = [i for i, c in enumerate(code) if any(o.get("output_type") == "error" for o in c.get("outputs", []))]
    injected = [i for i, c in enumerate(code) if "injected-parameters" in c.metadata.get("tags", [])]
    assert failing == [injected[0] + 1]


def test_the_common_preamble_follows_the_mode(tmp_path):
    from cclib import notebook

    quick = notebook.setup("quick", 3, tmp_path / "out")
    assert quick.quick and quick.seeds == [3] and len(quick.p_eval) == 20 and quick.samples == 512
    paper = notebook.setup("paper", 0, tmp_path / "out")
    assert not paper.quick and paper.seeds == [0, 1, 2] and len(paper.p_eval) == 100 and paper.samples == 4096
    assert paper.out.is_dir()
    with pytest.raises(ValueError, match="mode must be one of"):
        notebook.setup("fast", 0, tmp_path)
