"""The model-only network driver."""
