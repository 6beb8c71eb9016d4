"""Tidewell: a Prometheus-compatible long-term metrics store."""

__version__ = "0.1.0"
