"""Socket.IO signalling: one ``AsyncNamespace`` per audience (participants, officers, media)."""
