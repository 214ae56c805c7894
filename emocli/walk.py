"""Walking a dataset folder without crashing and without losing anything silently.

Symlinks to files and to folders are followed (a split kept on another drive and linked
into the dataset is read like any folder); each real file and folder is read once, so a
link back to a parent ends the walk there instead of looping. What cannot be read is not
skipped quietly: dangling or looping links, folders and files without read permission,
and the same file reached twice are listed as :class:`Problem` s, which the readers turn
into rejects with the reason. Hidden names (``.name``) are skipped, as before.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TreeFile:
    """A regular file found under the root: its path as reached (through any links), its
    size in bytes and its modification time in ns (of the link's target)."""

    path: Path
    size: int
    mtime_ns: int


@dataclass(frozen=True)
class Problem:
    """A path under the root that cannot be read, and why (one short phrase)."""

    path: Path
    reason: str


@dataclass
class Tree:
    """The readable files under a root, sorted by path, and the paths that could not be read."""

    root: Path
    files: list[TreeFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def walk_tree(root: Path | str) -> Tree:
    """Every regular file under ``root`` (a folder, or a single file), following symlinks.

    Never raises for what it finds inside ``root``: each unreadable path becomes a
    :class:`Problem`. A file or folder reached a second time (two links to it, or a link to
    a parent) is a problem too, and its content is not listed twice.
    """
    root = Path(root)
    tree = Tree(root)
    seen: dict[tuple[int, int], Path] = {}
    info = _stat(root, tree)
    if info is None:
        return tree
    if stat.S_ISDIR(info.st_mode):
        seen[(info.st_dev, info.st_ino)] = root
        _walk_folder(root, tree, seen)
    else:
        _add_file(root, info, tree, seen)
    return tree


def _walk_folder(folder: Path, tree: Tree, seen: dict[tuple[int, int], Path]) -> None:
    try:
        with os.scandir(folder) as entries:
            names = sorted(e.name for e in entries if not e.name.startswith("."))
    except OSError as exc:
        tree.problems.append(Problem(folder, f"unreadable folder ({_why(exc)})"))
        return
    folders = []
    for name in names:  # files first, then sub-folders: the order os.walk gives
        path = folder / name
        info = _stat(path, tree)
        if info is None:
            continue
        if stat.S_ISDIR(info.st_mode):
            folders.append((path, info))
        elif stat.S_ISREG(info.st_mode):
            _add_file(path, info, tree, seen)
        else:
            tree.problems.append(Problem(path, "not a regular file (a device, socket or pipe)"))
    for path, info in folders:
        key = (info.st_dev, info.st_ino)
        if key in seen:
            first = seen[key]
            what = "a link to a parent folder" if _is_under(folder, first) else "read once"
            tree.problems.append(Problem(path, f"same folder as {first} ({what})"))
            continue
        seen[key] = path
        _walk_folder(path, tree, seen)


def _add_file(
    path: Path, info: os.stat_result, tree: Tree, seen: dict[tuple[int, int], Path]
) -> None:
    key = (info.st_dev, info.st_ino)
    if key in seen:
        tree.problems.append(Problem(path, f"same file as {seen[key]} (read once)"))
        return
    seen[key] = path
    if not os.access(path, os.R_OK):
        tree.problems.append(Problem(path, "unreadable file (permission denied)"))
        return
    tree.files.append(TreeFile(path, info.st_size, info.st_mtime_ns))


def _stat(path: Path, tree: Tree) -> os.stat_result | None:
    """``os.stat`` following links, or None with the reason recorded in ``tree``."""
    try:
        return os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT and os.path.islink(path):
            reason = f"dangling symlink (its target {os.readlink(path)} does not exist)"
        elif exc.errno == errno.ELOOP:
            reason = "symlink loop (the link points back to itself)"
        else:
            reason = f"cannot read ({_why(exc)})"
        tree.problems.append(Problem(path, reason))
        return None


def _is_under(folder: Path, ancestor: Path) -> bool:
    return folder == ancestor or ancestor in folder.parents


def _why(exc: OSError) -> str:
    return "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else str(exc.strerror)
