"""emocli: emotion recognition in the wild from faces and voices, one cached stage at a time."""

import os
import sys

__version__ = "0.1.0"


def _silence_opencv_logging() -> None:
    """Keep OpenCV's own ``[ WARN...]`` / ``[ERROR...]`` lines off stderr.

    The readers report every file they reject themselves (``rejects/``, the summary), so
    OpenCV's log adds only noise, e.g. for a truncated PNG. OpenCV reads ``OPENCV_LOG_LEVEL``
    when it first logs, so setting it here (before any emocli module imports cv2) covers
    this process and every worker process; a level the user set is kept.
    """
    os.environ.setdefault("OPENCV_LOG_LEVEL", "SILENT")
    cv2 = sys.modules.get("cv2")  # already imported (by a caller): set the level directly
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None and os.environ["OPENCV_LOG_LEVEL"] == "SILENT":
        logging.setLogLevel(logging.LOG_LEVEL_SILENT)


_silence_opencv_logging()
