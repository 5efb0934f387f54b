"""conftest.py at the checkout's root: nbval's kernel start is retried when a kernel dies before
it answers."""
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _conftest():
    spec = importlib.util.spec_from_file_location("notebooks_conftest", ROOT / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_kernel_that_dies_at_start_is_started_again_and_one_that_never_starts_still_fails(capsys):
    conftest = _conftest()
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("Kernel died before replying to kernel_info")
        return "km", "kc"

    assert conftest.retried(flaky, pause=0)(kernel_name="python3") == ("km", "kc")
    assert calls == [{"kernel_name": "python3"}] * 2
    assert "Kernel died before replying" in capsys.readouterr().err

    def dead(**kwargs):
        calls.append(kwargs)
        raise RuntimeError("Kernel died before replying to kernel_info")

    calls.clear()
    with pytest.raises(RuntimeError, match="Kernel died"):
        conftest.retried(dead, attempts=3, pause=0)()
    assert len(calls) == 3


def test_nbval_starts_its_kernels_through_the_retry():
    import nbval.kernel

    _conftest()
    assert nbval.kernel.start_new_kernel.__name__ == "start_with_retries"
