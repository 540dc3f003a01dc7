"""Noticing changed documents without re-reading the whole folder before every question.

The engine compares a signature of the docs folder before each question. Stat-ing every file
grows with the folder (17 ms for 2,300 files here), so `FolderWatch` stats only the folders
before each question — adding, removing or renaming a file changes its folder's mtime, which
is how uploads and removals arrive — and sweeps every file (catching a file edited in place)
when the last sweep is older than `sweep_factor` times what that sweep cost: every question
for a small folder, about once a second for thousands of files.
"""
from __future__ import annotations

import os
import time
from pathlib import Path

from ..text.normalise import DOC_SUFFIXES


class FolderWatch:
    """A signature of the documents under `root` (path, mtime, size of each), cheap to re-check."""

    def __init__(self, root: Path, sweep_factor: float = 50.0):
        self.root, self.sweep_factor = Path(root), sweep_factor
        self._dirs: tuple[str, ...] = ()
        self._dir_stamps: tuple[int, ...] | None = None
        self._signature: tuple = ()
        self._swept_at = -float("inf")
        self._sweep_cost = 0.0

    def signature(self) -> tuple:
        """(path, mtime_ns, size) of every .txt / .md document, hidden files and folders skipped."""
        now = time.monotonic()
        if self._stamps() != self._dir_stamps or now - self._swept_at >= self._sweep_cost * self.sweep_factor:
            self._sweep()
        return self._signature

    def _stamps(self) -> tuple[int, ...] | None:
        try:
            return tuple(os.stat(d).st_mtime_ns for d in self._dirs)
        except OSError:
            return None  # a folder went away: sweep

    def _sweep(self) -> None:
        t0 = time.monotonic()
        dirs, stamps, files = [], [], []
        pending = [str(self.root)]
        while pending:
            folder = pending.pop()
            try:
                stamp = os.stat(folder).st_mtime_ns  # before listing: a file added meanwhile changes it
                entries = list(os.scandir(folder))
            except OSError:
                continue
            dirs.append(folder)
            stamps.append(stamp)
            for entry in entries:
                if entry.name.startswith("."):
                    continue
                try:
                    if entry.is_dir():
                        pending.append(entry.path)
                    elif entry.is_file() and os.path.splitext(entry.name)[1].lower() in DOC_SUFFIXES:
                        st = entry.stat()
                        files.append((Path(entry.path).as_posix(), st.st_mtime_ns, st.st_size))
                except OSError:
                    continue  # removed while we looked
        self._dirs, self._dir_stamps = tuple(dirs), tuple(stamps)
        self._signature = tuple(sorted(files))
        self._swept_at = time.monotonic()
        self._sweep_cost = self._swept_at - t0
