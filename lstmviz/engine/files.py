"""The one atomic file writer: a temporary file beside the target, then a rename.

A crash or a full disk never leaves a half-written file under the final name, and the
file gets the permissions of any ordinary new file (0666 minus the umask, typically
0644), not mkstemp's private 0600.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def umask() -> int:
    """The process umask (Linux reads it from /proc; elsewhere set-and-restore)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temp_beside(path: str | os.PathLike[str], tag: str = "") -> Path:
    """A new empty temporary file `.NAME.PID[-tag]-xxxx.tmp` beside `path`, with ordinary
    permissions (0666 minus the umask). The PID lets `sweep_stale` tell a dead writer's
    leftovers from a live one's."""
    path = Path(path)
    prefix = f".{path.name}.{os.getpid()}{'-' + tag if tag else ''}-"
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~umask())
    finally:
        os.close(fd)
    return Path(tmp)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale(folder: str | os.PathLike[str], names) -> list[Path]:
    """Remove the temporaries a killed writer left beside `names` in `folder`: files
    `.NAME.PID-....tmp` whose process is gone, and the older `.NAME.xxxx.tmp` (no PID).
    Returns the removed paths."""
    folder = Path(folder)
    removed = []
    for name in names:
        for tmp in folder.glob(f".{glob_escape(name)}.*.tmp"):
            middle = tmp.name[len(name) + 2: -4]
            head = middle.split("-", 1)[0]
            if head.isdigit() and "-" in middle and _alive(int(head)):
                continue  # a live writer's (this process's included)
            try:
                tmp.unlink()
                removed.append(tmp)
            except OSError:
                pass
    return removed


def glob_escape(name: str) -> str:
    return "".join(f"[{c}]" if c in "*?[" else c for c in name)


def open_for_write(path: str | os.PathLike[str]) -> BinaryIO:
    """The one place files are opened for writing: every byte lstmviz writes (configs,
    weights, checkpoints, exports, histories, sweep CSVs) goes through the file this
    returns (tests put a fake filesystem here, e.g. one that runs out of space)."""
    return open(path, "wb")  # noqa: SIM115 - the caller closes it


def target_error(exc: OSError, target: str | os.PathLike[str]) -> OSError:
    """`exc` (raised on a temporary beside `target`) naming `target` instead: "[Errno 28]
    No space left on device: 'TARGET'" (the same OSError subclass)."""
    if exc.errno is None:
        return OSError(f"{target}: {exc}")
    return OSError(exc.errno, exc.strerror or os.strerror(exc.errno), str(target))


def write_file(path: str | os.PathLike[str], data: bytes, *,
               target: str | os.PathLike[str] | None = None) -> None:
    """Write `data` to the (temporary) file `path`; an OSError names `target`."""
    try:
        with open_for_write(path) as fh:
            fh.write(data)
    except OSError as exc:
        raise target_error(exc, target or path) from exc


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], None]) -> None:
    """Call `write(fh)` on a temporary file beside `path`, then rename it into place. A
    failure (a full disk, say) leaves the old file as it was and no temporary, and its
    OSError names `path`, not the temporary."""
    path = Path(path)
    tmp = temp_beside(path)
    try:
        with open_for_write(tmp) as fh:
            write(fh)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise target_error(exc, path) from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` atomically (see `atomic_write`)."""
    atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically (see `atomic_write`)."""
    atomic_write_bytes(path, text.encode("utf-8"))
