"""Seam: Segment-compatible event collection and identity resolution."""

__version__ = "0.1.0"
