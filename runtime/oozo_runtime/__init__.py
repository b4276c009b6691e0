"""Oozo runtime: index, serve, query, backup and restore, as one CLI and one image."""

__version__ = "0.1.0"
