"""OpenStack Compute v2.1 frontend for Cumulo (``cumulo.api`` plugin ``compute``)."""
