"""The in-process messaging transport (``inprocess://``), the all-in-one default: see :mod:`.transport`."""
