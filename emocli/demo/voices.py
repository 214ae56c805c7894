"""Synthetic voices: source-filter vowels whose prosody depends on the emotion.

A glottal pulse train (Rosenberg pulses at the fundamental frequency F0) plus breath noise
is passed through the formant resonators of a sequence of vowels, one per syllable. The
emotion sets the prosody: mean pitch, pitch range, pitch slope, jitter (tremor), loudness,
syllable rate, vocal effort (spectral brightness) and breathiness. A speaker (:class:`Voice`)
sets the base pitch and the vocal tract's length (formant scaling); background noise and a
recording gain are nuisances.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy import ndimage, signal

#: Vowel formants (F1, F2, F3) of an adult male voice, Hz (Peterson & Barney, 1952).
VOWEL_FORMANTS: tuple[tuple[float, float, float], ...] = (
    (730.0, 1090.0, 2440.0),  # a
    (530.0, 1840.0, 2480.0),  # e
    (270.0, 2290.0, 3010.0),  # i
    (570.0, 840.0, 2410.0),  # o
    (300.0, 870.0, 2240.0),  # u
)
#: Formant bandwidths, Hz.
FORMANT_BANDWIDTHS = (80.0, 110.0, 160.0)
#: Speech RMS (full scale = 1) at 0 dB loudness.
REFERENCE_RMS = 0.05
#: Range of the background noise's RMS, full scale.
NOISE_RMS = (0.002, 0.012)
#: Smoothing of vowel transitions and of the syllable accents, seconds.
TRANSITION_S = 0.03
#: Voiced fraction of a syllable (the rest is a consonant-like dip).
VOICED_FRACTION = 0.75
#: Attack and release of a syllable's envelope, seconds.
ATTACK_S, RELEASE_S = 0.02, 0.04


@dataclass(frozen=True)
class Voice:
    """A speaker.

    f0 : base pitch (fundamental frequency), Hz
    formant_scale : factor on every formant frequency (> 1: a shorter vocal tract)
    """

    f0: float
    formant_scale: float


@dataclass(frozen=True)
class Prosody:
    """How a clip is spoken.

    pitch : mean F0 offset from the speaker's base, semitones
    pitch_range : std of the per-syllable pitch accents, semitones
    slope : F0 trend over the utterance, semitones per second
    jitter : relative depth of random F0 wobble and tremor (0.01 = 1 %)
    loudness : level relative to :data:`REFERENCE_RMS`, dB
    rate : syllables per second
    effort : 0 lax .. 1 tense voice (sharper glottal closure, brighter spectrum)
    breath : aspiration noise relative to the voiced source
    """

    pitch: float
    pitch_range: float
    slope: float
    jitter: float
    loudness: float
    rate: float
    effort: float
    breath: float

    def as_array(self) -> np.ndarray:
        """The fields as an (8,) float64 vector, in field order."""
        return np.array([getattr(self, f.name) for f in fields(self)], dtype=np.float64)


#: Each class's prosody at full intensity: the directions of Scherer 2003 and Banse & Scherer
#: 1996, exaggerated so that 84-112 training clips can learn them despite the speakers.
PROSODY: dict[str, Prosody] = {
    "Neutral": Prosody(0.0, 1.0, -0.5, 0.005, 0.0, 4.0, 0.35, 0.05),
    "Angry": Prosody(5.0, 2.5, -1.0, 0.01, 9.0, 5.5, 1.0, 0.02),
    "Disgust": Prosody(-4.0, 1.5, -2.0, 0.02, -1.0, 2.6, 0.75, 0.05),
    "Fear": Prosody(9.0, 2.0, 0.5, 0.06, -1.0, 5.8, 0.5, 0.35),
    "Happy": Prosody(6.0, 4.5, 0.0, 0.01, 4.0, 4.8, 0.6, 0.05),
    "Sad": Prosody(-4.0, 0.5, -4.0, 0.01, -8.0, 2.6, 0.1, 0.3),
    "Surprise": Prosody(7.0, 3.5, 10.0, 0.01, 4.0, 3.6, 0.65, 0.08),
}
#: Per-clip random spread of each prosody field (same order), independent of the class.
PROSODY_SPREAD = Prosody(0.75, 0.2, 0.5, 0.0015, 1.5, 0.25, 0.05, 0.015)
#: Voice intensity: its base (the intensity of a voice whose face shows nothing) and its
#: spread around the line from the base to 1.
VOICE_INTENSITY_BASE = 0.8
VOICE_INTENSITY_SPREAD = 0.05
#: Tremor frequency (the F0 wobble of a shaking voice), Hz.
TREMOR_HZ = 7.0


def sample_voice(rng: np.random.Generator) -> Voice:
    """A random speaker, male or female with equal chance."""
    if rng.random() < 0.5:
        return Voice(f0=float(rng.uniform(100, 125)), formant_scale=float(rng.uniform(0.92, 1.02)))
    return Voice(f0=float(rng.uniform(190, 225)), formant_scale=float(rng.uniform(1.05, 1.18)))


def voice_intensity(face_intensity: float, rng: np.random.Generator) -> float:
    """How strongly a clip's voice carries its emotion (0..1), from the face's intensity.

    Mostly between :data:`VOICE_INTENSITY_BASE` and 1, rising with the face's, plus noise
    (:data:`VOICE_INTENSITY_SPREAD`): acted speech carries its emotion even when the face is
    subtle.
    """
    shared = VOICE_INTENSITY_BASE + (1.0 - VOICE_INTENSITY_BASE) * face_intensity
    return float(np.clip(shared + rng.normal(0.0, VOICE_INTENSITY_SPREAD), 0.0, 1.0))


def clip_prosody(emotion: str, face_intensity: float, rng: np.random.Generator) -> Prosody:
    """Prosody of one clip: neutral moved towards ``emotion`` by the :func:`voice_intensity`
    that goes with ``face_intensity`` (0..1), plus a random per-clip spread
    (:data:`PROSODY_SPREAD`)."""
    intensity = voice_intensity(face_intensity, rng)
    neutral = PROSODY["Neutral"].as_array()
    target = PROSODY[emotion].as_array()
    values = neutral + intensity * (target - neutral)
    values += rng.normal(0.0, 1.0, values.size) * PROSODY_SPREAD.as_array()
    low = np.array([-12.0, 0.1, -12.0, 0.0, -20.0, 1.5, 0.0, 0.0])
    high = np.array([12.0, 6.0, 12.0, 0.1, 14.0, 8.0, 1.0, 0.6])
    return Prosody(*(float(v) for v in np.clip(values, low, high)))


@dataclass(frozen=True)
class Syllable:
    """One syllable: start and length in seconds, vowel index, pitch accent in semitones."""

    start: float
    length: float
    vowel: int
    accent: float


def plan_syllables(duration: float, prosody: Prosody, rng: np.random.Generator) -> list[Syllable]:
    """Syllables filling ``duration`` seconds after a short lead-in, with occasional pauses."""
    out: list[Syllable] = []
    t = float(rng.uniform(0.05, 0.25))
    end = duration - float(rng.uniform(0.05, 0.2))
    while True:
        length = float(rng.uniform(0.75, 1.25)) / prosody.rate
        if t + length > end:
            break
        out.append(
            Syllable(
                t,
                length,
                int(rng.integers(len(VOWEL_FORMANTS))),
                float(rng.normal(0.0, prosody.pitch_range)),
            )
        )
        t += length
        if rng.random() < 0.15:
            t += float(rng.uniform(0.1, 0.3))
    return out


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average of a 1-D (or (N, K)) signal along axis 0 over ``width`` samples."""
    if width <= 1:
        return x
    return ndimage.uniform_filter1d(x, width, axis=0, mode="nearest")


def _tracks(
    syllables: list[Syllable], n: int, sr: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-sample tracks: envelope (n,) in [0, 1], vowel weights (n, 5), accent (n,) semitones."""
    env = np.zeros(n)
    weights = np.zeros((n, len(VOWEL_FORMANTS)))
    accent = np.zeros(n)
    attack, release = int(ATTACK_S * sr), int(RELEASE_S * sr)
    for syl in syllables:
        a = int(syl.start * sr)
        b = min(n, a + int(syl.length * sr))
        voiced = max(attack + release + 1, int((b - a) * VOICED_FRACTION))
        shape = np.ones(voiced)
        shape[:attack] = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, attack))
        shape[-release:] = 0.5 + 0.5 * np.cos(np.linspace(0, np.pi, release))
        stop = min(n, a + voiced)
        env[a:stop] = shape[: stop - a]
        weights[a:b, syl.vowel] = 1.0
        accent[a:b] = syl.accent
    width = int(TRANSITION_S * sr)
    weights = _smooth(weights, width)
    weights[weights.sum(axis=1) == 0, 0] = 1.0
    return env, weights, _smooth(accent, 4 * width)


def _f0_track(
    voice: Voice, prosody: Prosody, accent: np.ndarray, sr: int, rng: np.random.Generator
) -> np.ndarray:
    """Fundamental frequency per sample, (n,) Hz: base, mean shift, slope, accents, jitter."""
    n = accent.size
    t = np.arange(n) / sr
    semitones = prosody.pitch + accent + prosody.slope * (t - t.mean())
    wobble = _smooth(rng.normal(0.0, 1.0, n), int(0.02 * sr)) * np.sqrt(0.02 * sr)
    tremor = np.sin(2 * np.pi * TREMOR_HZ * t + rng.uniform(0, 2 * np.pi))
    return voice.f0 * 2.0 ** (semitones / 12.0) * (1.0 + prosody.jitter * (wobble + tremor))


def _glottal_source(f0: np.ndarray, effort: float, sr: int) -> np.ndarray:
    """Differentiated Rosenberg glottal flow at ``f0`` (n,) Hz, (n,) float64, unit RMS.

    Higher ``effort`` closes the glottis faster, so the spectrum is brighter.
    """
    phase = np.cumsum(f0 / sr) % 1.0
    opening = 0.4
    closing = 0.25 - 0.17 * effort
    flow = np.where(phase < opening, 0.5 - 0.5 * np.cos(np.pi * phase / opening), 0.0)
    closing_part = (phase >= opening) & (phase < opening + closing)
    flow[closing_part] = np.cos(0.5 * np.pi * (phase[closing_part] - opening) / closing)
    source = np.diff(flow, prepend=0.0)
    return source / (np.sqrt(np.mean(source**2)) + 1e-12)


def _formant_sos(formants: tuple[float, float, float], scale: float, sr: int) -> np.ndarray:
    """Cascade of 2-pole resonators, one per formant: (3, 6) second-order sections."""
    sections = []
    for freq, bandwidth in zip(formants, FORMANT_BANDWIDTHS, strict=True):
        f = min(freq * scale, 0.45 * sr)
        r = np.exp(-np.pi * bandwidth / sr)
        theta = 2 * np.pi * f / sr
        a = [1.0, -2.0 * r * np.cos(theta), r * r]
        gain = sum(a)  # unit gain at DC
        sections.append([gain, 0.0, 0.0, *a])
    return np.array(sections)


def _background(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    """Room / street noise: pinkish noise and, sometimes, mains hum; (n,) float64."""
    white = rng.normal(0.0, 1.0, n)
    pink = signal.lfilter([1.0], [1.0, -0.95], white)
    noise = pink / (np.sqrt(np.mean(pink**2)) + 1e-12)
    if rng.random() < 0.3:
        t = np.arange(n) / sr
        hum_hz = 50.0 if rng.random() < 0.5 else 60.0
        noise += 0.5 * np.sin(2 * np.pi * hum_hz * t + rng.uniform(0, 2 * np.pi))
    return noise * rng.uniform(*NOISE_RMS) / np.sqrt(np.mean(noise**2))


@dataclass(frozen=True)
class Utterance:
    """A synthesised sound track.

    audio : (n,) float32 mono in [-1, 1] at ``sample_rate`` Hz
    envelope : (n,) float32 in [0, 1], how open the speaker's mouth is (for lip movement)
    """

    audio: np.ndarray
    envelope: np.ndarray
    sample_rate: int


def synthesise(
    voice: Voice, prosody: Prosody, n_samples: int, sample_rate: int, rng: np.random.Generator
) -> Utterance:
    """Speech by ``voice`` with ``prosody``, exactly ``n_samples`` long, over background noise."""
    sr = sample_rate
    syllables = plan_syllables(n_samples / sr, prosody, rng)
    env, weights, accent = _tracks(syllables, n_samples, sr)
    f0 = _f0_track(voice, prosody, accent, sr, rng)
    source = _glottal_source(f0, prosody.effort, sr)
    source = source + prosody.breath * rng.normal(0.0, 1.0, n_samples) * (0.5 + np.abs(source))
    speech = np.zeros(n_samples)
    for k, formants in enumerate(VOWEL_FORMANTS):
        filtered = signal.sosfilt(_formant_sos(formants, voice.formant_scale, sr), source)
        speech += weights[:, k] * filtered
    speech *= env
    voiced = env > 0.5
    if voiced.any():
        level = REFERENCE_RMS * 10.0 ** (prosody.loudness / 20.0)
        speech *= level / (np.sqrt(np.mean(speech[voiced] ** 2)) + 1e-12)
    audio = np.clip(speech + _background(n_samples, sr, rng), -0.99, 0.99)
    return Utterance(
        audio=audio.astype(np.float32), envelope=env.astype(np.float32), sample_rate=sr
    )
