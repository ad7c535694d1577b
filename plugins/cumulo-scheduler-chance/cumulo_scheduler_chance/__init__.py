"""The chance scheduler: a random host among those that can take the server."""
