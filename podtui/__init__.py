"""podtui: run a Python service on GPU pods from one terminal app."""

__version__ = "0.1.0"
