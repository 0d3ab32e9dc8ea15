"""Video-call identity verification: the domain (records, queue, sessions, quality, outcomes)."""
