"""One module per CLI command. Each exposes ``command``, a typer function that only parses
options into the stage's params dataclass and calls ``stages.<stage>.run``.

Modules here import nothing heavy at module level (torch, cv2, librosa are imported inside
``command``) so that ``emocli --help`` stays instant.
"""
