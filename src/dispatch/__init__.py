"""dispatch: feeds in, email digests and social posts out."""

__version__ = "0.1.0"
