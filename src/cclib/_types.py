"""Names for the types that public signatures share."""
from __future__ import annotations

from typing import TYPE_CHECKING, Sequence, Union

import numpy as np
import torch

if TYPE_CHECKING:
    from .models import MLP, ResidualMLP

#: One seed s for all instances (meaning s, s+1, ...) or one seed per instance.
Seeds = Union[int, Sequence[int]]
#: One number for every instance or one per instance.
PerInstance = Union[float, Sequence[float]]
#: Numbers given as a scalar, a sequence, a numpy array or a tensor.
Numbers = Union[float, Sequence[float], np.ndarray, torch.Tensor]
#: Either architecture; both expose effective_weights() and pullback().
Model = Union["MLP", "ResidualMLP"]
