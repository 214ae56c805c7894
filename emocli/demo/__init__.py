"""A small synthetic dataset in the layouts of AFEW, SFEW and CASIA-WebFace.

Procedural faces (found by OpenCV's Haar cascades) whose expression unfolds over short
video clips, with synthesised voices whose prosody carries the same emotion. Used by the
tests, the demo and CI, where the real (licence-gated) datasets are absent::

    from emocli.demo import DemoSpec, generate_demo_data
    summary = generate_demo_data(Path("demo"), DemoSpec(seed=0))

Modules, one job each: :mod:`~emocli.demo.spec` (sizes, classes), :mod:`~emocli.demo.appearance`
(identities), :mod:`~emocli.demo.expressions` (facial actions per class),
:mod:`~emocli.demo.faces` (drawing), :mod:`~emocli.demo.scene` (pose, background, camera),
:mod:`~emocli.demo.voices` (speech synthesis), :mod:`~emocli.demo.video` (MP4 writing),
:mod:`~emocli.demo.generate` (the dataset's layout).
"""

from emocli.demo.generate import generate_demo_data
from emocli.demo.spec import DemoSpec

__all__ = ["DemoSpec", "generate_demo_data"]
