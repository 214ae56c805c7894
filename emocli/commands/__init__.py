"""One module per CLI command. Each exposes ``command``, a typer function whose parameters
say what the command takes: its own arguments and options (``argument`` and ``option`` in
:mod:`emocli.commands.common`) and, for a command that runs a stage, a ``StageCall`` with the
values of the options generated from the stage's params dataclass and of those every stage
command shares (``with_params``). The body only resolves default paths in the workspace,
calls ``stages.<stage>.run`` and prints the result (``run_and_report``, with the stage's
``describe``). What ``--config`` and ``inspect --as-config`` need to know of a command
(``RENAMED_PARAMETERS``, ``AS_CONFIG``, ``config_values``: :mod:`emocli.config`) follows it.

Modules here import nothing heavy at module level (torch, cv2, librosa are imported inside
``command``) so that ``emocli --help`` stays instant.
"""
