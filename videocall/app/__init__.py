"""The application layer: one service per use-case family, the only code that changes a call's
state from pairing to decision. Services take their collaborators as the interfaces in
``ports``; adapters (SQL, Redis, Socket.IO, aiortc, HTTP) sit around them and are wired in the
composition root (``server.py``).
"""
