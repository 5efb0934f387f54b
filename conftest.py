"""nbval's kernel start, retried: make test runs two notebooks at once (pytest-xdist), and a kernel
that dies before it answers (jupyter_client picks its TCP ports in one process and binds them in
another, so two kernels started together can likely collide on a port; not proven) fails every cell
of a notebook that never ran. Seen once in a clean-clone CI run of d6d278f (fig19: "Kernel died
before replying to kernel_info"; the same stage rerun at once passed 129 of 129). A start that
fails is retried, said on stderr; a kernel that cannot start at all still fails after ATTEMPTS
tries. It sits at the checkout's root, where pytest reads it for `pytest notebooks/...` (notebooks/
holds only the figures' jupytext pairs)."""
from __future__ import annotations

import sys
import time

import nbval.kernel

ATTEMPTS = 3


def retried(start, attempts: int = ATTEMPTS, pause: float = 1.0):
    """``start`` (nbval's start_new_kernel) called again when it raises RuntimeError (a kernel that
    died or did not answer in time), at most ``attempts`` times in all."""
    def start_with_retries(*args, **kwargs):
        for attempt in range(1, attempts + 1):
            try:
                return start(*args, **kwargs)
            except RuntimeError as error:
                if attempt == attempts:
                    raise
                print(f"nbval: the kernel did not start ({error}); starting another "
                      f"(attempt {attempt + 1} of {attempts})", file=sys.stderr, flush=True)
                time.sleep(pause)
    return start_with_retries


nbval.kernel.start_new_kernel = retried(nbval.kernel.start_new_kernel)
