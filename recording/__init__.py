"""Call recordings: encoded RTP frames remuxed into Matroska/WebM segment files.

``SessionRecorder`` (session.py) is the entry point; ``writer.py`` owns one file and its worker
thread; ``retention.py`` decides which files are old enough to delete.
"""
