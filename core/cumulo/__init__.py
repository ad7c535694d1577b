"""Cumulo: a cloud platform built as a small kernel plus plugins."""

__version__ = "0.1.0"
