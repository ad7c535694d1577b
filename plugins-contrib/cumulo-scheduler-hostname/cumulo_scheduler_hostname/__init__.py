"""cumulo-scheduler-hostname: an example third-party scheduler filter."""
