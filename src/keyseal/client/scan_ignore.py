"""Paths the leak scan leaves alone: ``.keyseal-scan-ignore`` in the scanned folder and
``--ignore`` patterns, in gitignore's simple form.

- ``fixtures/`` (a trailing slash): that folder, wherever it is;
- ``docs/*.md`` (a slash inside): matched against the whole path from the scanned folder;
- ``*.lock`` (no slash): matched against each file or folder name;
- ``#`` starts a comment; blank lines are ignored.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

IGNORE_FILE = ".keyseal-scan-ignore"


@dataclass(frozen=True, slots=True)
class IgnoreRules:
    patterns: tuple[str, ...] = ()

    @classmethod
    def load(cls, root: Path, extra: Iterable[str] = ()) -> IgnoreRules:
        """The rules of ``root``'s ignore file (when there is one) and ``extra``."""
        folder = root if root.is_dir() else root.parent
        lines: list[str] = []
        with contextlib.suppress(FileNotFoundError):
            lines = (folder / IGNORE_FILE).read_text(encoding="utf-8").splitlines()
        written = (line.strip() for line in [*lines, *extra])
        return cls(tuple(line for line in written if line and not line.startswith("#")))

    def ignores(self, relative: str | PurePosixPath) -> bool:
        """Whether a path (relative to the scanned folder, ``/``-separated) is left alone."""
        path = PurePosixPath(relative)
        parts = path.parts
        for pattern in self.patterns:
            if pattern.endswith("/"):
                name = pattern.rstrip("/")
                if any(fnmatchcase(part, name) for part in parts[:-1]) or (
                        "/" in name and _under(path, name.lstrip("/"))):
                    return True
            elif "/" in pattern.rstrip("/"):
                anchored = pattern.lstrip("/")
                if fnmatchcase(str(path), anchored) or _under(path, anchored):
                    return True
            elif any(fnmatchcase(part, pattern) for part in parts):
                return True
        return False


def _under(path: PurePosixPath, folder_pattern: str) -> bool:
    """Whether ``path`` lies inside a folder matching ``folder_pattern`` (a full path)."""
    return any(fnmatchcase(str(parent), folder_pattern) for parent in path.parents
               if str(parent) != ".")
