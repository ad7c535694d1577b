"""The OpenStack Object Storage v1 API (Swift) frontend, mounted at ``/object-store``."""
