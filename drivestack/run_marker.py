"""The ``INCOMPLETE`` marker: present in a run folder while ``drive`` or ``replay`` writes it.

``mark_incomplete`` writes it right after the folder is created; ``mark_complete`` removes it as
the run's last act, after the final summary (``metrics.json`` / ``summary.json``). A folder
that still holds ``INCOMPLETE`` once its command has ended was interrupted (Ctrl-C, a crash)
or stopped early (a source that failed mid-run): what it holds is valid as far as it goes,
but it is not the whole run, and no tool should read it as one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from common.errors import UsageError

MARKER = "INCOMPLETE"


def start_run_folder(folder: Path, command: str, what: str = "output folder") -> None:
    """Create ``folder`` (never an existing one) and mark it incomplete; a folder that exists or cannot
    be created is a one-line ``UsageError`` naming it."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True)
    except FileExistsError:
        raise UsageError(f"{what} {str(folder)!r} already exists; choose another --out (runs are never overwritten)") from None
    except OSError as exc:
        raise UsageError(f"cannot create {what} {str(folder)!r}: {exc.strerror}") from None
    mark_incomplete(folder, command)


def mark_incomplete(folder: Path, command: str) -> Path:
    """Write ``folder/INCOMPLETE`` saying which command started when (and that it is still going)."""
    path = Path(folder) / MARKER
    path.write_text(f"drivestack {command} started {time.strftime('%Y-%m-%d %H:%M:%S')} (pid {os.getpid()}).\n"
                    "This file is removed when the run finishes; if it is still here after the command ended, the run "
                    "was interrupted or stopped early and this folder holds only part of it.\n")
    return path


def note_incomplete(folder: Path, reason: str) -> None:
    """Add why the run stopped early to its marker (the marker stays)."""
    with open(Path(folder) / MARKER, "a", encoding="utf-8") as f:
        f.write(f"Stopped early: {reason}\n")


def mark_complete(folder: Path) -> None:
    """Remove the marker: every output of the run is on disk."""
    (Path(folder) / MARKER).unlink(missing_ok=True)
