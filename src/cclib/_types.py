"""Names for the types that public signatures share (the model protocol is :class:`cclib.task.Model`)."""
from __future__ import annotations

from typing import Sequence, Union

import numpy as np
import torch

#: One seed s for all instances (meaning s, s+1, ...) or one seed per instance.
Seeds = Union[int, Sequence[int]]
#: One number for every instance or one per instance.
PerInstance = Union[float, Sequence[float]]
#: Numbers given as a scalar, a sequence, a numpy array or a tensor.
Numbers = Union[float, Sequence[float], np.ndarray, torch.Tensor]
