"""Cumulo API frontend: the Amazon S3 REST API on the object area."""
