"""colossim: a digital twin of AI training superclusters."""

__version__ = "0.1.0"
