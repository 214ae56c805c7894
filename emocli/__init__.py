"""emocli: emotion recognition in the wild from faces and voices, one cached stage at a time."""

__version__ = "0.1.0"
