"""Read-only HTTP image store: image data that already lives on a web server."""
