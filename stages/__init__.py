"""One module per pipeline stage. Each defines a frozen ``<Stage>Params`` dataclass, a
``STAGE = StageInfo(name, version)`` and ``run(params, ...) -> StageResult``; a stage reads
only the artifacts of earlier stages, never their modules."""
