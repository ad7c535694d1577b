"""OpenStack Identity v3 API frontend for Cumulo."""
