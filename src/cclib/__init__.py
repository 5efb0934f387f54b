"""cclib: the toy model of compressed computation and the tools to take it apart."""
__version__ = "0.1.0"

#: The public modules, importable as attributes: ``import cclib; cclib.mixing.clean(...)``.
__all__ = ["analysis", "baselines", "bounds", "cache", "data", "evaluate", "evaluations", "experiments", "fast", "general",
           "mixing", "models", "paper_runs", "parallel", "plotting", "reference", "report", "build", "spec",
           "store", "sweep", "train"]


def __getattr__(name: str):
    """Import a public module on first use (so that ``import cclib`` stays cheap)."""
    if name in __all__:
        import importlib
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'cclib' has no attribute {name!r}; its modules: {', '.join(__all__)}")
