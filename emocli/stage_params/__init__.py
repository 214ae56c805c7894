"""The stages' parameters, each declared once: a frozen dataclass per stage whose fields carry
their default, validation and ``--help`` text (:func:`emocli.params.param`).

The commands generate their options from these classes
(:func:`emocli.commands.common.with_params`) and the stages run on them. The modules are
light (no numpy, h5py or torch at import), so ``emocli --help`` stays instant; the defaults
that the building blocks share (the thesis's front end) are declared here and imported there.
"""
