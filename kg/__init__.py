"""kg: a knowledge graph of California workers' compensation IMR determination letters."""

__version__ = "0.1.0"
