"""Object storage backend "dir": a single-directory store for development and small clouds."""
