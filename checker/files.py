"""The user's files, read and written safely: nothing the user had is ever destroyed.

Writing goes to a temporary file beside the target, is fsynced, then renamed over it, so a
failure (a full disk, a read-only folder) leaves what was there untouched. A target that
exists and is not a regular file — a folder, a device, a FIFO, a socket — or that is a
symbolic link is refused, never replaced. Reading refuses anything but a regular file (a
FIFO would hang the reader) and anything larger than the caller's limit, before reading it.
Every refusal is one :class:`~checker.errors.ElectkitError` line naming the option and path.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from checker.errors import ElectkitError

REASONS = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is exhausted",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "the name is too long",
    errno.ENOTDIR: "a part of the path is not a folder",
}


def _reason(exc: OSError) -> str:
    return REASONS.get(exc.errno, exc.strerror or str(exc))


def check_output_path(path: str | os.PathLike, option: str) -> Path:
    """``path`` if a file may be written there; ElectkitError names why not, before any work."""
    target = Path(path)
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise ElectkitError(f"{option}: cannot write {target}: {_reason(exc)}") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise ElectkitError(
                f"{option}: {target} is a symbolic link; name the file itself (nothing was written)"
            )
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ElectkitError(f"{option}: {target} is {kind}; it is left as it is")
    return target


def write_text(path: str | os.PathLike, text: str, option: str) -> Path:
    """Write ``text`` to ``path`` atomically (folders made as needed); returns the path."""
    target = check_output_path(path, option)
    tmp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name[:40]}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
        tmp = None
    except OSError as exc:
        raise ElectkitError(f"{option}: cannot write {target}: {_reason(exc)}") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    return target


def read_text(path: str | os.PathLike, limit: int, what: str = "file") -> str:
    """The text of a regular file of at most ``limit`` bytes; ElectkitError otherwise."""
    source = Path(path)
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise ElectkitError(f"{source}: no such file") from None
    except OSError as exc:
        raise ElectkitError(f"{source}: cannot be read ({_reason(exc)})") from None
    if stat.S_ISDIR(info.st_mode):
        raise ElectkitError(f"{source}: is a folder, not a {what}")
    if not stat.S_ISREG(info.st_mode):
        raise ElectkitError(f"{source}: is not a regular file (a FIFO or a device), not a {what}")
    if info.st_size > limit:
        raise ElectkitError(
            f"{source}: {info.st_size:,} bytes; a {what} is limited to {limit:,} bytes"
        )
    try:
        with open(source, encoding="utf-8") as handle:
            return handle.read(limit + 1)
    except UnicodeDecodeError:
        raise ElectkitError(f"{source}: not UTF-8 text, not a {what}") from None
    except OSError as exc:
        raise ElectkitError(f"{source}: cannot be read ({_reason(exc)})") from None


def scratch_dir() -> Path:
    """Where a command's own output goes when the user named no path: the project's ignored
    traces/counterexamples/ in a checkout of electkit, else the user's cache folder; never the
    current folder, which may be anyone's.

    >>> scratch_dir().name
    'counterexamples'
    """
    project = Path(__file__).resolve().parent.parent
    if (project / "pyproject.toml").is_file() and (project / "traces").is_dir():
        return project / "traces" / "counterexamples"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "electkit" / "counterexamples"
