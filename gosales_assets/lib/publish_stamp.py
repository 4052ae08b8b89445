"""The stamp of a published analyst copy (see :mod:`gosales_assets.lib.publish`).

After a verified refresh the publisher records the copy's size, modification time,
inode and device in ``.<name>.verified`` next to it. A later refresh that finds the
stamp matching knows the file is byte for byte what was verified (any edit,
replacement or copy changes one of them) and reads back only the tables it rewrote.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

log = logging.getLogger("gosales.publish")


def stamp_path(dest: Path) -> Path:
    return dest.with_name(f".{dest.name}.verified")


def _stamp(path: Path) -> list[int]:
    info = path.stat()
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_dev]


def untouched(dest: Path) -> bool:
    """Whether ``dest`` is the file the last verified refresh published, unchanged
    (its stamp matches); False on any doubt."""
    try:
        recorded = json.loads(stamp_path(dest).read_text(encoding="utf-8"))
        return bool(recorded == _stamp(dest))
    except (OSError, ValueError):
        return False


def write_stamp(dest: Path) -> None:
    """Record the published file's stamp (a failure only costs the next refresh a
    full verification)."""
    path = stamp_path(dest)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(json.dumps(_stamp(dest)), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as err:
        log.warning("could not write the stamp of the copy path=%s error=%s", path, err)
        with contextlib.suppress(OSError):
            tmp.unlink()
