"""Argument checks shared by every public entry point.

Each raises ``ValueError`` (or ``TypeError``) whose message names the parameter, the value it got
and the range it allows, so a bad call fails before anything is built or written.
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence

import torch

from . import _env


#: The allowed range of each setting that enters at more than one place (a run spec and a public
#: function): (low, high, whether low itself is excluded). The spec's fields (:func:`field_range`)
#: and the functions' checks (:func:`check_range`) both read it, so the rule is written once.
RANGES = {
    "p": (0.0, 1.0, True),
    "sigma": (0.0, 10.0, False),
    "lr": (0.0, 10.0, True),
    "weight_decay": (0.0, 1.0, False),
    "out_init_scale": (0.0, 10.0, True),
    "init_scale": (0.0, 10.0, True),
}


def field_range(name: str) -> dict:
    """The pydantic bounds of :data:`RANGES`' ``name`` (``gt`` or ``ge``, and ``le``)."""
    low, high, low_open = RANGES[name]
    return {("gt" if low_open else "ge"): low, "le": high}


def check_range(name: str, value: object) -> float:
    """``value`` as a float if it lies in :data:`RANGES`' range for ``name``."""
    low, high, low_open = RANGES[name]
    return check_float(name, value, low, high, low_open=low_open)


def check_int(name: str, value: object, low: int = 1, high: int | None = None) -> int:
    """``value`` as an int, if it is an integer in [low, high] (high None: no upper bound)."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, torch.Tensor) and value.numel() == 1 and not value.is_floating_point()
    ):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    allowed = f"[{low}, {'inf' if high is None else high}]"
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be an integer in {allowed}, got {value}")
    return value


def check_float(name: str, value: object, low: float = -math.inf, high: float = math.inf,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a float, if it is a finite number in the interval (open ends as flagged)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    value = float(value)
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    bad = (not math.isfinite(value) and not (value == high == math.inf)) or value < low or value > high \
        or (low_open and value == low) or (high_open and value == high)
    if bad:
        raise ValueError(f"{name} must be a finite number in {left}{low}, {high}{right}, got {value}")
    return value


def check_numbers(name: str, values: object, low: float, high: float) -> list[float]:
    """One number or a sequence of numbers (numpy and tensors too), each finite in [low, high]."""
    if isinstance(values, torch.Tensor):
        values = values.tolist()
    elif hasattr(values, "tolist"):
        values = values.tolist()
    items = values if isinstance(values, (list, tuple)) else [values]
    if not items:
        raise ValueError(f"{name} must be a number or a non-empty sequence of numbers, got {values!r}")
    return [check_float(name, v, low, high) for v in items]


def check_probabilities(name: str, values: object, n_instances: int | None = None) -> torch.Tensor:
    """Probabilities in (0, 1]; a scalar is broadcast to ``n_instances``. Returns float64 (K,)."""
    try:
        t = torch.as_tensor(values, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a number or a sequence of numbers in (0, 1], got {values!r}") from None
    if t.numel() == 1 and n_instances is not None:
        t = t.expand(n_instances).clone()
    if n_instances is not None and t.numel() != n_instances:
        raise ValueError(f"{name} must have one value per instance ({n_instances}), got {t.numel()}")
    if t.numel() == 0 or not torch.all(torch.isfinite(t)) or torch.any(t <= 0) or torch.any(t > 1):
        raise ValueError(f"{name} must lie in (0, 1], got {t.tolist()[:8]}")
    return t


def check_choice(name: str, value: object, allowed: Iterable[str]) -> str:
    """``value``, if it is one of the ``allowed`` strings."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def check_seeds(name: str, seeds: object, n_instances: int) -> list[int]:
    """One non-negative integer seed per instance; an int ``s`` means ``s, s+1, ...``."""
    if isinstance(seeds, (int,)) and not isinstance(seeds, bool):
        check_int(name, seeds, low=0)
        return [seeds + k for k in range(n_instances)]
    seeds = list(seeds)
    if len(seeds) != n_instances:
        raise ValueError(f"{name} must have one seed per instance ({n_instances}), got {len(seeds)}")
    return [check_int(f"{name}[{k}]", s, low=0) for k, s in enumerate(seeds)]


def check_shape(name: str, tensor: torch.Tensor, shape: Sequence[int | None]) -> torch.Tensor:
    """``tensor``, if it is a tensor of ``shape`` (None: any size on that axis)."""
    if not isinstance(tensor, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    ok = tensor.dim() == len(shape) and all(s is None or s == t for s, t in zip(shape, tensor.shape))
    if not ok:
        want = "(" + ", ".join("*" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} must have shape {want}, got {tuple(tensor.shape)}")
    return tensor


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to compute on: ``device``, else $CCLIB_DEVICE, else 'cpu'. A device that
    torch does not know or that this machine lacks is refused with a ValueError naming it."""
    name = device if device is not None else _env.get("CCLIB_DEVICE") or "cpu"
    try:
        dev = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"device must be a torch device such as 'cpu', 'cuda' or 'cuda:1'; "
                         f"got {name!r} ({err})") from None
    available = {"cpu": lambda: True, "cuda": torch.cuda.is_available,
                 "mps": lambda: torch.backends.mps.is_available()}.get(dev.type, lambda: False)
    if not available() or (dev.type == "cuda" and dev.index is not None
                           and dev.index >= torch.cuda.device_count()):
        raise ValueError(f"device {str(dev)!r} is not available on this machine")
    return dev
