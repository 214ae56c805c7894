"""One module per CLI command. Each exposes ``command``, a typer function that only parses
options into the stage's params dataclass, calls ``stages.<stage>.run`` and prints the result
(:func:`emocli.commands.common.run_and_report`, with the stage's ``describe``).

Modules here import nothing heavy at module level (torch, cv2, librosa are imported inside
``command``) so that ``emocli --help`` stays instant.
"""
