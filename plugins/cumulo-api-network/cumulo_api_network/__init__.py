"""OpenStack Networking v2.0 API frontend."""
