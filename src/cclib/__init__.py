"""cclib: the toy model of compressed computation and the tools to take it apart."""
__version__ = "0.1.0"
