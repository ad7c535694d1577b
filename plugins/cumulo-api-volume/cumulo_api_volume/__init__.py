"""The Block Storage API v3 frontend (``cumulo.api`` plugin ``volumev3``), calling ``hub.volume``."""
