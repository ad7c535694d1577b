"""OpenStack Image API v2 frontend (``image``), mounted at ``/image``."""
