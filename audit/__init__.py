"""clone-audit: find Smallest AI voice clones that are silent on lightning-v3.1, and fix them."""

__version__ = "0.1.0"
