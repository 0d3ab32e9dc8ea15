"""Adapters: the I/O around the domain (SQL, Redis, aiortc, files, HTTP out)."""
