"""The tiny demo dataset the chain tests run on (the ``tiny_demo`` fixture of conftest.py)."""

from __future__ import annotations

from emocli.demo import DemoSpec

#: The smallest demo with every class in each split and >= 2 train clips per class (the SVM
#: fuser's stratified folds need two), short clips of small frames (96 px: face detection's
#: minimum), at 10 fps.
TINY_DEMO = DemoSpec(
    seed=0,
    clips_train=14,
    clips_val=7,
    frames_per_clip_sfew=1,
    unlabelled=16,
    fps=10,
    image_size=96,
    min_clip_s=0.5,
    max_clip_s=1.0,
)
