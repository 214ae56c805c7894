"""The pure face functions: grey conversion, decoding, methodology 1 and 2, tracking, sheets.

Also the synthetic-face helpers the other face tests import (:func:`draw_face`,
:func:`scene`, :func:`write_clip`).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from emocli.faces import (
    FaceParams,
    align_on_eyes,
    decode_image,
    face_track,
    preprocess_frames,
    preprocess_image,
    similarity_from_eyes,
    to_grey,
    track_frames,
)
from emocli.faces.detect import main_face
from emocli.faces.geometry import crop_resize, fit_inside, inner_square, iou
from emocli.faces.sheet import ClassSampler, contact_sheet
from emocli.params import ParamsError

#: Pupils of :func:`draw_face`, relative to the face centre, in units of side / 200.
PUPIL_DX, PUPIL_DY = 25, -12


def draw_face(side: int = 200, seed: int = 0, skin: int = 200) -> np.ndarray:
    """A grey cartoon face that OpenCV's Haar face and eye cascades find: (side, side) uint8.

    Pupils are dark discs at centre + (+-PUPIL_DX, PUPIL_DY) * side / 200.
    """
    rng = np.random.default_rng(seed)
    img = np.full((side, side), 90, np.uint8)
    s = side / 200

    def at(x: float, y: float) -> tuple[int, int]:
        return int(side / 2 + x * s), int(side / 2 + y * s)

    def axes(a: float, b: float) -> tuple[int, int]:
        return int(a * s), int(b * s)

    cv2.ellipse(img, at(0, 0), axes(60, 78), 0, 0, 360, skin, -1)
    cv2.ellipse(img, at(0, -62), axes(62, 28), 0, 180, 360, 40, -1)  # hair
    for dx in (-PUPIL_DX, PUPIL_DX):
        cv2.ellipse(img, at(dx, -28), axes(16, 4), 0, 0, 360, 60, -1)  # brow
        cv2.ellipse(img, at(dx, PUPIL_DY), axes(13, 7), 0, 0, 360, 120, -1)  # socket
        cv2.ellipse(img, at(dx, PUPIL_DY), axes(10, 5), 0, 0, 360, 235, -1)  # white
        cv2.circle(img, at(dx, PUPIL_DY), int(4.5 * s), 20, -1)  # pupil
    cv2.ellipse(img, at(0, 12), axes(7, 5), 0, 0, 360, 150, -1)  # nose
    cv2.ellipse(img, at(0, 38), axes(20, 6), 0, 0, 360, 70, -1)  # mouth
    img = cv2.GaussianBlur(img, (0, 0), 1.5 * s)
    return np.clip(img + rng.normal(0, 4, img.shape), 0, 255).astype(np.uint8)


def scene(
    face_side: int = 160, at: tuple[int, int] = (240, 80), shape: tuple[int, int] = (480, 640)
) -> np.ndarray:
    """A (H, W) uint8 'wild' image: a textured background with one face at ``at`` (x, y)."""
    rng = np.random.default_rng(1)
    img = cv2.GaussianBlur(rng.integers(40, 140, shape).astype(np.uint8), (0, 0), 3)
    x, y = at
    img[y : y + face_side, x : x + face_side] = draw_face(face_side)
    return img


def write_clip(path: Path, frames: list[np.ndarray], fps: int = 10) -> None:
    """Encode grey frames as an MPEG-4 video with PyAV."""
    import av

    h, w = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_ndarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), "bgr24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def dark_blobs(image: np.ndarray, threshold: int = 60) -> list[tuple[float, float]]:
    """Centroids (x, y) of the dark connected regions of ``image``, largest first."""
    mask = (image < threshold).astype(np.uint8)
    n, _, stats, centroids = cv2.connectedComponentsWithStats(mask)
    order = sorted(range(1, n), key=lambda i: -stats[i, cv2.CC_STAT_AREA])
    return [tuple(centroids[i]) for i in order]


# --------------------------------------------------------------------------- grey and decoding


def test_to_grey_accepts_every_depth_and_channel_layout() -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 2] = 255  # red
    assert to_grey(bgr).shape == (4, 5)
    assert to_grey(bgr)[0, 0] == cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)[0, 0]
    bgra = np.dstack([bgr, np.zeros((4, 5), np.uint8)])
    assert np.array_equal(to_grey(bgra), to_grey(bgr))  # alpha ignored
    assert to_grey(np.full((3, 3), 65535, np.uint16)).max() == 255
    assert to_grey(np.full((3, 3), 0.5)).max() == 128
    assert to_grey(np.ones((3, 3, 1), bool)).max() == 255
    with pytest.raises(ValueError):
        to_grey(np.zeros((2, 2, 2, 2), np.uint8))


def test_decode_image_reports_bad_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "text.png"
    text.write_text("not an image")
    good = tmp_path / "good.png"
    deep = np.linspace(0, 65535, 40 * 40).reshape(40, 40).astype(np.uint16)
    cv2.imwrite(str(good), deep)
    assert decode_image(empty) == (None, "empty file")
    assert decode_image(text) == (None, "unreadable image")
    assert decode_image(tmp_path / "missing.png")[0] is None
    grey, reason = decode_image(good)
    assert reason == "" and grey is not None and grey.dtype == np.uint8
    assert grey.shape == (40, 40) and grey.max() > 250  # 16 bits reduced, not clipped


# --------------------------------------------------------------------------- geometry


def test_similarity_maps_the_pupils_exactly() -> None:
    m = similarity_from_eyes((10, 20), (50, 35), (19.2, 23.0), (44.8, 23.0))
    for src, dst in [((10, 20), (19.2, 23.0)), ((50, 35), (44.8, 23.0))]:
        out = m @ np.array([*src, 1.0])
        assert np.allclose(out, dst)
    assert np.isclose(m[0, 0], m[1, 1]) and np.isclose(m[0, 1], -m[1, 0])  # no shear
    with pytest.raises(ValueError):
        similarity_from_eyes((1, 1), (1, 1), (0, 0), (1, 0))


@pytest.mark.parametrize(
    ("left", "right", "shape"),
    [
        ((70.0, 90.0), (130.0, 80.0), (200, 220)),  # tilted, scale > 0.5
        ((300.0, 420.0), (620.0, 500.0), (900, 1000)),  # large and tilted: reduced first
        ((30.5, 40.0), (45.5, 41.0), (90, 80)),  # small: upscaled
    ],
)
def test_alignment_puts_known_pupils_on_the_canonical_points(
    left: tuple[float, float], right: tuple[float, float], shape: tuple[int, int]
) -> None:
    image = np.full(shape, 200, np.uint8)
    radius = max(2, int(0.12 * math.dist(left, right)))
    for x, y in (left, right):
        cv2.circle(image, (int(round(x * 16)), int(round(y * 16))), radius * 16, 0, -1, shift=4)
    params = FaceParams(size=64)
    out = align_on_eyes(image, left, right, *params.canonical_eyes, params.size)
    assert out.shape == (64, 64) and out.dtype == np.uint8
    blobs = dark_blobs(out, threshold=100)[:2]
    assert len(blobs) == 2
    found = sorted(blobs)
    for (x, y), (cx, cy) in zip(found, params.canonical_eyes, strict=True):
        assert math.dist((x, y), (cx, cy)) <= 2.0, (found, params.canonical_eyes)


def test_crop_resize_replicates_borders_outside_the_image() -> None:
    image = np.arange(100, dtype=np.uint8).reshape(10, 10)
    out = crop_resize(image, (-5, -5, 10, 10), 10)
    assert out.shape == (10, 10)
    assert out[0, 0] == image[0, 0] and out[9, 9] == image[4, 4]
    assert crop_resize(image, (50, 50, 4, 4), 4).shape == (4, 4)  # wholly outside: edge pixels


def test_squares_for_whole_images_and_pre_cropped_faces() -> None:
    assert inner_square((0, 0, 143, 181)) == (0, 19, 143, 143)
    assert fit_inside((-10, -5, 60, 60), (0, 0, 100, 50)) == (0, 0, 50, 50)
    assert fit_inside((80, 10, 30, 30), (0, 0, 100, 50)) == (70, 10, 30, 30)


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    assert math.isclose(iou((0, 0, 10, 10), (5, 0, 10, 10)), 50 / 150)


# --------------------------------------------------------------------------- methodology 1 and 2


def test_methodology_2_aligns_a_detected_face() -> None:
    params = FaceParams(size=128, clahe_clip=0)  # no CLAHE: the pupils stay the darkest
    face, status = preprocess_image(scene(160, (240, 80)), params)
    assert status == "face+eyes"
    assert face is not None and face.shape == (128, 128) and face.dtype == np.uint8
    pupils = sorted(dark_blobs(face, threshold=40)[:2])
    for found, canonical in zip(pupils, params.canonical_eyes, strict=True):
        assert math.dist(found, canonical) <= 4.0  # Haar eye boxes, not exact pupils


def test_methodology_1_crops_the_face_without_alignment() -> None:
    image = scene(160, (240, 80))
    face, status = preprocess_image(image, FaceParams(size=64, align=False, clahe_clip=0))
    assert status == "face" and face is not None and face.shape == (64, 64)
    # the crop is the face: its two darkest blobs (pupils) sit in its upper half, side by side
    left, right = sorted(dark_blobs(face, threshold=40)[:2])
    assert left[1] < 32 and right[1] < 32 and left[0] < 32 < right[0]


def test_bgr_input_and_colour_independence() -> None:
    grey = scene()
    bgr = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    a, b = preprocess_image(grey, FaceParams()), preprocess_image(bgr, FaceParams())
    assert a.status == b.status and np.array_equal(a.face, b.face)


def test_main_face_prefers_large_then_central() -> None:
    content = (0.0, 0.0, 640.0, 480.0)
    small_central = (300.0, 220.0, 40.0, 40.0)
    large_corner = (0.0, 0.0, 150.0, 150.0)
    large_central = (250.0, 170.0, 140.0, 140.0)
    assert main_face([small_central, large_corner], content) == 1
    assert main_face([large_corner, large_central, small_central], content) == 1


def test_two_faces_keeps_the_larger() -> None:
    image = scene(100, (20, 20))
    image[150:350, 300:500] = draw_face(200)
    out = preprocess_image(image, FaceParams(size=64, align=False))
    expected = preprocess_image(scene(200, (300, 150)), FaceParams(size=64, align=False))
    assert out.status == "face"
    assert np.abs(out.face.astype(int) - expected.face.astype(int)).mean() < 20


def test_pre_cropped_small_faces_are_found_after_padding() -> None:
    tight = cv2.resize(draw_face(200)[40:170, 35:165], (48, 48), interpolation=cv2.INTER_AREA)
    assert preprocess_image(tight, FaceParams()).status.startswith("face")
    # one cascade on the equalised 48x48 crop, without padding: the face is missed
    no_padding = FaceParams(small_side=0, detect_raw=False, fallback_cascade="")
    assert preprocess_image(tight, no_padding).status == "no face"


def test_detection_passes_run_in_order_until_a_face_is_found(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from emocli.faces import detect

    calls: list[tuple[str, str]] = []
    box = (1.0, 2.0, 30.0, 30.0)

    def fake(image: np.ndarray, prepared: detect.Prepared, cascade: str, params: FaceParams):  # type: ignore[no-untyped-def]
        kind = "equalised" if image is prepared.image else "raw"
        calls.append((cascade[:20], kind))
        return [box] if (cascade, kind) == ("second.xml", "raw") else []

    monkeypatch.setattr(detect, "_detect", fake)
    grey = np.random.default_rng(0).integers(0, 255, (40, 40)).astype(np.uint8)
    params = FaceParams(face_cascade="first.xml", fallback_cascade="second.xml")
    assert detect.detect_faces(detect.prepare(grey, params), params) == [box]
    assert calls == [
        ("first.xml", "equalised"),
        ("first.xml", "raw"),
        ("second.xml", "equalised"),
        ("second.xml", "raw"),
    ]
    calls.clear()
    single = FaceParams(face_cascade="first.xml", fallback_cascade="", detect_raw=False)
    assert detect.detect_faces(detect.prepare(grey, single), single) == []
    assert calls == [("first.xml", "equalised")]


def test_misses_are_rejected_or_kept_whole() -> None:
    noise = np.random.default_rng(0).integers(0, 255, (120, 160)).astype(np.uint8)
    assert preprocess_image(noise, FaceParams(on_miss="reject")) == (None, "no face")
    face, status = preprocess_image(noise, FaceParams(on_miss="keep", align=False))
    assert status == "kept-whole" and face is not None and face.shape == (64, 64)
    face, status = preprocess_image(noise, FaceParams(detector="none", align=False, size=32))
    assert status == "whole" and face is not None and face.shape == (32, 32)


def test_tiny_images_are_too_small() -> None:
    face, status = preprocess_image(np.zeros((4, 4), np.uint8), FaceParams())
    assert face is None and status.startswith("too small")


def test_params_validate_and_round_trip() -> None:
    with pytest.raises(ParamsError, match="--on-miss"):
        FaceParams(on_miss="auto")
    with pytest.raises(ParamsError, match="--size"):
        FaceParams(size=2)
    params = FaceParams(size=48, eye_x=0.32)
    restored = FaceParams.from_dict({**params.to_dict(), "workers": 3})
    assert restored == params
    assert params.canonical_eyes == ((0.32 * 48, 0.36 * 48), ((1 - 0.32) * 48, 0.36 * 48))


# --------------------------------------------------------------------------- clips


def test_face_track_follows_the_main_person() -> None:
    person = [(100.0 + 4 * i, 100.0, 80.0, 80.0) for i in range(6)]
    frames: list[list[tuple[float, float, float, float]]] = [[b] for b in person]
    frames[2] = [(400.0, 300.0, 120.0, 120.0), person[2]]  # a larger passer-by, once
    frames[4] = []  # a missed detection
    track = face_track(frames, (0.0, 0.0, 640.0, 480.0))
    assert track == [0, 0, 1, 0, None, 0]  # index of the person's box in each frame
    assert face_track([[], []], (0.0, 0.0, 10.0, 10.0)) == [None, None]


def test_preprocess_frames_keeps_one_result_per_frame() -> None:
    frames = [scene(150, (200 + 6 * i, 90)) for i in range(4)]
    frames.append(np.zeros((2, 2), np.uint8))  # a broken frame
    results = preprocess_frames(frames, FaceParams(size=48))
    assert len(results) == 5
    assert all(r.status.startswith("face") for r in results[:4])
    assert results[4].face is None and results[4].status.startswith("too small")


def test_track_frames_detects_every_kth_frame_and_interpolates_between(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import emocli.faces.track as track

    frames = [scene(150, (200 + 6 * i, 90)) for i in range(8)]
    calls: list[int] = []
    real = track.detect_faces
    monkeypatch.setattr(track, "detect_faces", lambda p, q: calls.append(1) or real(p, q))
    every = track_frames(frames, FaceParams(size=48, align=False))
    assert len(calls) == 8
    calls.clear()
    sparse = track_frames(frames, FaceParams(size=48, align=False), detect_every=3)
    assert len(calls) == 4, "frames 0, 3, 6 and the last one"
    assert all(t.result.face is not None for t in sparse), "faces between detections too"
    for k in (0, 3, 6, 7):  # detected frames agree exactly
        np.testing.assert_array_equal(sparse[k].result.face, every[k].result.face)
    for k, (a, b) in {1: (0, 3), 2: (0, 3), 4: (3, 6), 5: (3, 6)}.items():
        t = (k - a) / (b - a)
        expected = [u + t * (v - u) for u, v in zip(sparse[a].box, sparse[b].box, strict=True)]
        np.testing.assert_allclose(sparse[k].box, expected)
    with pytest.raises(ValueError, match="detect_every"):
        track_frames(frames, FaceParams(size=48), detect_every=0)


def test_interpolated_pupils_keep_their_place_in_the_face_box() -> None:
    from emocli.faces.pipeline import Located
    from emocli.faces.track import _between

    with_eyes = Located((0.0, 0.0, 100.0, 100.0), ((30.0, 40.0), (70.0, 40.0)))
    without = Located((100.0, 0.0, 200.0, 200.0), None)
    half = _between(with_eyes, without, 0.5)
    assert half.box == (50.0, 0.0, 150.0, 150.0)
    assert half.eyes == ((95.0, 60.0), (155.0, 60.0))  # 30 %/70 % across, 40 % down
    assert _between(without, without, 0.5).eyes is None


# --------------------------------------------------------------------------- preview


def test_class_sampler_is_bounded_and_the_sheet_has_one_row_per_class() -> None:
    sampler = ClassSampler(3, seed=0)
    for i in range(50):
        sampler.add("happy" if i % 2 else "sad", np.full((8, 8), i, np.uint8))
    assert all(len(v) == 3 for v in sampler.samples.values())
    assert sampler.seen == {"sad": 25, "happy": 25}
    rows = sampler.rows(["sad", "happy"])
    assert [name for name, _ in rows] == ["sad", "happy"]
    sheet = contact_sheet(rows, columns=3)
    assert sheet.shape[0] == 2 * (8 + 2) + 2 and sheet.dtype == np.uint8
