"""A versioned artifact folder for models and other binaries.

Layout: ``<root>/<kind>/<name slug>/<version>/<file>``. A version is a content hash, so
writing the same artifact twice is a no-op, and two different artifacts never share a
folder. Writes go to a temporary folder that is renamed into place, so a crash never
leaves half an artifact behind.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

_SLUG = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A folder-safe, readable name: lower case, other characters as ``_``, plus a
    short hash so names differing only in punctuation never collide."""
    base = _SLUG.sub("_", name.strip().lower()).strip("_") or "x"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:6]
    return f"{base}-{digest}"


@dataclass(frozen=True)
class ArtifactStore:
    root: Path

    def folder(self, kind: str, name: str, version: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", version):
            raise ValueError(f"artifact version must be a plain token: {version!r}")
        if not re.fullmatch(r"[a-z_]+", kind):
            raise ValueError(f"artifact kind must be lower-case letters: {kind!r}")
        return self.root / kind / slug(name) / version

    def put(self, kind: str, name: str, version: str, files: dict[str, bytes]) -> Path:
        """Store ``files`` under the version folder (atomic; idempotent)."""
        dest = self.folder(kind, name, version)
        if dest.is_dir():
            same = all(
                (dest / fname).is_file() and (dest / fname).read_bytes() == data
                for fname, data in files.items()
            )
            if same:
                return dest
            shutil.rmtree(dest)  # an older, incomplete or different copy
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=dest.parent))
        try:
            for fname, data in files.items():
                if "/" in fname or fname.startswith("."):
                    raise ValueError(f"artifact file name must be plain: {fname!r}")
                (tmp / fname).write_bytes(data)
            os.replace(tmp, dest)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return dest

    def get(self, kind: str, name: str, version: str, filename: str) -> bytes:
        path = self.folder(kind, name, version) / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"artifact {kind}/{name}/{version}/{filename} not found under "
                f"{self.root}; re-materialize the asset that produces it"
            )
        return path.read_bytes()
