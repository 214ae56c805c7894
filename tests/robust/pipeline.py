"""Every stage of the pipeline as a CLI call on the tiny demo data, in dependency order.

Each :class:`Step` names the artifacts it writes (relative to the workspace); ``{W}`` in an
argument is replaced by the workspace path.
"""

from __future__ import annotations

from emocli.demo.chain import Step, demo_chain

#: A small prediction CSV (two classes, four clips) for ``import-predictions``.
PREDICTIONS_CSV = (
    "clip_id,split,label,Angry,Happy\n"
    "c01,train,Angry,0.8,0.2\n"
    "c02,train,Happy,0.3,0.7\n"
    "c03,val,Angry,0.6,0.4\n"
    "c04,val,Happy,0.1,0.9\n"
)


#: ``make demo``'s chain with one epoch a training (emocli/demo/chain.py), and before its
#: evaluation an import of :data:`PREDICTIONS_CSV` (written to ``{W}/imported.csv``).
_CHAIN = demo_chain(quick=True)
STEPS: tuple[Step, ...] = (
    *_CHAIN[:-1],
    Step(
        "import-predictions",
        ("import-predictions", "{W}/imported.csv", "-o", "{W}/predictions/imported.h5"),
        ("predictions/imported.h5",),
    ),
    _CHAIN[-1],
)
