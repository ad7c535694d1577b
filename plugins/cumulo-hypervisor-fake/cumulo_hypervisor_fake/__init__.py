"""The fake hypervisor: instances that live in memory, for development and tests."""
