"""Object-storage image store: image data as objects in Cumulo's Object Storage."""
