"""Offline live call assist for Korean customer centers."""

__version__ = "0.1.0"
