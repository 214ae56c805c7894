"""Generate the whole demo dataset: AFEW-like clips, SFEW-like stills, unlabelled faces.

Layout under ``out_dir`` (the real datasets' layouts)::

    afew/{Train,Val}/<Emotion>/<9-digit clip id>.mp4
    sfew/{Train,Val}/<Emotion>/<movie>_<9-digit clip id>_<8-digit frame index>.png
    unlabelled/face_<6-digit index>.png
    README.txt

Every clip, still and face is drawn from its own random stream, derived from the spec's
seed and the item's index, so the output depends on the seed only.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from emocli.demo import expressions, faces, scene, voices
from emocli.demo.appearance import Appearance, sample_appearance
from emocli.demo.spec import EMOTION_FOLDERS, SPLITS, DemoSpec, class_counts
from emocli.demo.video import write_clip

Progress = Callable[[str, int, int], None]

#: Clips per synthetic movie (about), and actors per movie.
CLIPS_PER_MOVIE = 10
ACTORS_PER_MOVIE = 3
#: How far speech opens the mouth, on top of the expression (units of ``mouth_open``).
TALK_OPEN = 0.3
#: zlib level of the PNG files (1: fast; the sensor noise barely compresses anyway).
PNG_COMPRESSION = 1
#: Tags that keep the random streams of different kinds of item apart.
_PLAN, _MOVIE, _CLIP, _UNLABELLED = 1, 2, 3, 4


@dataclass(frozen=True)
class Actor:
    """A person: face, resting expression and voice."""

    appearance: Appearance
    resting: expressions.Expression
    voice: voices.Voice


@dataclass(frozen=True)
class Movie:
    """A synthetic film: a name, a look and a small cast."""

    name: str
    style: scene.BackgroundStyle
    cast: tuple[Actor, ...]


@dataclass(frozen=True)
class ClipPlan:
    """One clip to render: where it goes and who is in it."""

    index: int
    split: str
    emotion: str
    clip_id: str
    movie: Movie
    actor: Actor
    n_frames: int


def _rng(spec: DemoSpec, tag: int, index: int) -> np.random.Generator:
    """The random stream of item ``index`` of kind ``tag``."""
    return np.random.default_rng([spec.seed, tag, index])


def sample_actor(rng: np.random.Generator) -> Actor:
    """A random actor."""
    return Actor(
        appearance=sample_appearance(rng),
        resting=expressions.sample_resting(rng),
        voice=voices.sample_voice(rng),
    )


def make_movies(spec: DemoSpec, split: str, n_clips: int, first: int) -> list[Movie]:
    """The movies of one split (splits share no movie, hence no actor), numbered from ``first``."""
    n_movies = max(1, round(n_clips / CLIPS_PER_MOVIE))
    movies = []
    for k in range(first, first + n_movies):
        rng = _rng(spec, _MOVIE, k)
        cast = tuple(sample_actor(rng) for _ in range(ACTORS_PER_MOVIE))
        movies.append(Movie(name=f"DemoMovie{k:02d}", style=scene.sample_style(rng), cast=cast))
    return movies


def plan_clips(spec: DemoSpec) -> list[ClipPlan]:
    """Every clip of both splits, with a unique 9-digit id, a movie, an actor and a length."""
    rng = _rng(spec, _PLAN, 0)
    sizes = {"Train": spec.clips_train, "Val": spec.clips_val}
    ids = rng.choice(10**9, size=sum(sizes.values()), replace=False)
    frame_range = (round(spec.min_clip_s * spec.fps), round(spec.max_clip_s * spec.fps))
    plans: list[ClipPlan] = []
    first_movie = 1
    for split in SPLITS:
        movies = make_movies(spec, split, sizes[split], first_movie)
        first_movie += len(movies)
        for emotion, count in class_counts(sizes[split]).items():
            for _ in range(count):
                movie = movies[int(rng.integers(len(movies)))]
                index = len(plans)
                plans.append(
                    ClipPlan(
                        index=index,
                        split=split,
                        emotion=emotion,
                        clip_id=f"{int(ids[index]):09d}",
                        movie=movie,
                        actor=movie.cast[int(rng.integers(len(movie.cast)))],
                        n_frames=int(rng.integers(frame_range[0], frame_range[1] + 1)),
                    )
                )
    return plans


@dataclass
class RenderedClip:
    """A clip in memory: frames (n, H, W, 3) uint8 BGR and its sound track (m,) float32."""

    frames: list[np.ndarray]
    audio: np.ndarray


def _frame_envelope(envelope: np.ndarray, n_frames: int) -> np.ndarray:
    """Mean of the (m,) speech envelope over each video frame, (n_frames,) in [0, 1]."""
    return envelope.reshape(n_frames, -1).mean(axis=1)


def render_clip(plan: ClipPlan, spec: DemoSpec) -> RenderedClip:
    """Draw the frames and synthesise the voice of one clip."""
    rng = _rng(spec, _CLIP, plan.index)
    size, actor = spec.image_size, plan.actor
    layer = faces.render_head(actor.appearance, size)
    shot = scene.make_shot(plan.movie.style, size, rng)
    poses = scene.sway(scene.sample_pose(size, rng), size, plan.n_frames, rng)
    intensity = expressions.sample_intensity(rng)
    onset = expressions.onset_curve(plan.n_frames, rng)
    prosody = voices.clip_prosody(plan.emotion, intensity, rng)
    samples_per_frame = spec.sample_rate // spec.fps
    speech = voices.synthesise(
        actor.voice, prosody, plan.n_frames * samples_per_frame, spec.sample_rate, rng
    )
    talk = _frame_envelope(speech.envelope, plan.n_frames)
    apex = expressions.APEX[plan.emotion]
    frames = []
    for i in range(plan.n_frames):
        expr = expressions.blend(actor.resting, apex, intensity * float(onset[i]))
        expr = replace(expr, mouth_open=expr.mouth_open + TALK_OPEN * float(talk[i]))
        face = faces.draw_expression(layer, actor.appearance, expr)
        frames.append(scene.compose(shot, face, layer, poses[i], rng))
    return RenderedClip(frames=frames, audio=speech.audio)


def still_indices(n_frames: int, count: int) -> list[int]:
    """Which frames of an ``n_frames`` clip become SFEW stills: ``count`` (at most) distinct
    indices spread evenly over the clip's second half, near the expression's apex, ending
    on the last frame."""
    start = n_frames // 2
    available = n_frames - start
    count = min(count, available)
    return [start + ((k + 1) * (available - 1)) // count for k in range(count)]


def _write_png(path: Path, image: np.ndarray) -> None:
    """Save a (H, W, 3) uint8 BGR image as PNG (fixed compression, so reproducible)."""
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_PNG_COMPRESSION, PNG_COMPRESSION]):
        raise OSError(f"could not write {path}")


def write_plan(plan: ClipPlan, spec: DemoSpec, out_dir: Path) -> int:
    """Render one clip, write its MP4 and its SFEW stills; returns the number of stills."""
    clip = render_clip(plan, spec)
    clip_dir = out_dir / "afew" / plan.split / plan.emotion
    clip_dir.mkdir(parents=True, exist_ok=True)
    write_clip(
        clip_dir / f"{plan.clip_id}.mp4", clip.frames, clip.audio, spec.fps, spec.sample_rate
    )
    still_dir = out_dir / "sfew" / plan.split / plan.emotion
    indices = still_indices(plan.n_frames, spec.frames_per_clip_sfew)
    if indices:
        still_dir.mkdir(parents=True, exist_ok=True)
    for i in indices:
        _write_png(still_dir / f"{plan.movie.name}_{plan.clip_id}_{i:08d}.png", clip.frames[i])
    return len(indices)


def render_unlabelled(spec: DemoSpec, index: int) -> np.ndarray:
    """Unlabelled face ``index``: a new identity with an arbitrary expression.

    Returns (S, S, 3) uint8 BGR.
    """
    rng = _rng(spec, _UNLABELLED, index)
    size = spec.image_size
    actor = sample_actor(rng)
    emotion = EMOTION_FOLDERS[int(rng.integers(len(EMOTION_FOLDERS)))]
    expr = expressions.blend(actor.resting, expressions.APEX[emotion], float(rng.uniform(0, 1)))
    layer = faces.render_head(actor.appearance, size)
    face = faces.draw_expression(layer, actor.appearance, expr)
    shot = scene.make_shot(scene.sample_style(rng), size, rng)
    return scene.compose(shot, face, layer, scene.sample_pose(size, rng), rng)


def _readme(spec: DemoSpec, summary: dict) -> str:
    """The text of ``README.txt``: what the files are and how many there are."""
    lines = [
        "emocli synthetic demo dataset",
        "=============================",
        "",
        "Procedurally drawn faces and synthesised voices in the layouts of the real datasets.",
        "Not real people; for tests, demos and smoke runs of the pipeline only.",
        "",
        f"seed: {spec.seed}",
        f"fps: {spec.fps}, frame size: {spec.image_size}x{spec.image_size}, "
        f"audio: {spec.sample_rate} Hz mono",
        "",
        "afew/{Train,Val}/<Emotion>/<clip id>.mp4        clips with video and audio (AFEW)",
        "sfew/{Train,Val}/<Emotion>/<movie>_<clip id>_<frame>.png  stills from those clips (SFEW)",
        "unlabelled/face_<n>.png                           faces of other people (GAN pre-training)",
        "",
    ]
    for dataset in ("afew", "sfew"):
        for split, counts in summary[dataset].items():
            listed = ", ".join(f"{c} {n}" for c, n in counts.items())
            lines.append(f"{dataset} {split}: {sum(counts.values())} ({listed})")
    lines.append(f"unlabelled: {summary['unlabelled']}")
    return "\n".join(lines) + "\n"


def generate_demo_data(
    out_dir: Path, spec: DemoSpec = DemoSpec(), progress: Progress | None = None
) -> dict:
    """Write the synthetic demo dataset to ``out_dir``, which must not exist or be empty.

    The files are written into a hidden staging folder beside ``out_dir``, renamed to
    ``out_dir`` once complete: an interrupted run leaves no half-written dataset.
    ``progress(task, completed, total)`` is called as items are written.
    Returns the counts: ``{"afew": {split: {Emotion: clips}}, "sfew": {split: {Emotion:
    stills}}, "unlabelled": faces, "movies": {split: [names]}}``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError(f"{out_dir} is not empty; generate the demo data into a new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.parent / f".{out_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        summary = _write_dataset(staging, spec, progress or _no_progress)
        if out_dir.exists():
            out_dir.rmdir()  # empty, checked above
        os.replace(staging, out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return summary


def _no_progress(task: str, completed: int, total: int) -> None:
    """The default progress hook: report nothing."""


def _write_dataset(root: Path, spec: DemoSpec, report: Progress) -> dict:
    """Write every file of the dataset under ``root``; returns the summary counts."""
    plans = plan_clips(spec)
    summary: dict = {
        "afew": {s: dict.fromkeys(EMOTION_FOLDERS, 0) for s in SPLITS},
        "sfew": {s: dict.fromkeys(EMOTION_FOLDERS, 0) for s in SPLITS},
        "unlabelled": spec.unlabelled,
        "movies": {s: sorted({p.movie.name for p in plans if p.split == s}) for s in SPLITS},
    }
    for done, plan in enumerate(plans):
        report("rendering clips", done, len(plans))
        summary["sfew"][plan.split][plan.emotion] += write_plan(plan, spec, root)
        summary["afew"][plan.split][plan.emotion] += 1
    report("rendering clips", len(plans), len(plans))
    face_dir = root / "unlabelled"
    if spec.unlabelled:
        face_dir.mkdir(parents=True, exist_ok=True)
    for index in range(spec.unlabelled):
        report("drawing unlabelled faces", index, spec.unlabelled)
        _write_png(face_dir / f"face_{index:06d}.png", render_unlabelled(spec, index))
    report("drawing unlabelled faces", spec.unlabelled, spec.unlabelled)
    (root / "README.txt").write_text(_readme(spec, summary), encoding="utf-8")
    return summary
