"""SFEW 2.0: ``Train|Val/<Emotion>/<movie>_<clip id>_<frame>.png`` and unlabelled ``Test/*.png``.

The file name carries the AFEW clip the still was taken from (leading zeros kept, so SFEW
frames join AFEW clips by ``clip_id``) and the movie, stored as the item's ``group`` (frames
of one movie belong on the same side of a dev split).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from emocli.datasets.common import IMAGE_EXTENSIONS, MediaItem
from emocli.datasets.folder import labelled_items

#: ``<movie>_<clip id>_<frame>``; the movie may itself contain underscores. A few real names
#: use a dash or a double underscore (``OceansThirteen-010619400_00000087``,
#: ``IAmSam_013827920__00000055``), so separators are runs of ``_`` or ``-``.
SFEW_NAME = re.compile(r"^(?P<movie>.+?)[_-]+(?P<clip>\d+)_+(?P<frame>\d+)$")


def parse_sfew_name(stem: str) -> tuple[str, str, int] | None:
    """``Airheads_000519240_00000005`` -> ``("Airheads", "000519240", 5)``; None if no match."""
    match = SFEW_NAME.match(stem)
    if not match:
        return None
    return match["movie"], match["clip"], int(match["frame"])


def read_sfew(root: Path) -> list[MediaItem]:
    """The stills of an SFEW folder (the whole set, or one split folder such as ``Train``)."""
    items = []
    for item in labelled_items(root, IMAGE_EXTENSIONS):
        parsed = parse_sfew_name(item.path.stem)
        if parsed:
            item = replace(item, clip_id=parsed[1], group=parsed[0])
        items.append(item)
    return items
