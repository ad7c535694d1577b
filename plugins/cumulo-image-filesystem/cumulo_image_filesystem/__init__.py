"""Filesystem image store: one file per image under ``[image_filesystem] datadir``."""
