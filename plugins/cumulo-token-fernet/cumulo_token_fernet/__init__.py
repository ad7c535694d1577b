"""Fernet token provider: tokens are encrypted, authenticated payloads; nothing is stored."""
