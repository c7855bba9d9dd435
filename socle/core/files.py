"""Writing governed files safely: one writer at a time, all or nothing.

Two operators (or two CI jobs) may change the same établissement file, catalogue table or password
store at the same time. Every read-modify-write of such a file happens under :func:`locked` (an
``flock`` on a lock file kept outside the data folder), and every write goes through
:func:`write_atomic` (a temporary file in the same folder, validated, fsynced, then renamed over
the old one): a reader sees the old file or the new one, never half of one, and a refused change
leaves the old file untouched.
"""

from __future__ import annotations

import contextlib
import fcntl
import grp
import hashlib
import json
import os
import stat
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from socle.core.errors import SocleError

#: how long a second operator waits for the first one before giving up (seconds)
LOCK_WAIT_S = float(os.environ.get("SOCLE_LOCK_WAIT", "120"))


#: the default lock folder: /run/lock is on tmpfs (nothing stale after a reboot); root makes it
LOCK_DIR = Path("/run/lock/socle")


def lock_dir() -> Path:
    """Lock files: ``SOCLE_LOCK_DIR``, else :data:`LOCK_DIR`, shared by the operators of this machine.

    Never world-writable: whoever may create a lock file there may hold every operator's lock and
    write the "holder" text they read. Root makes the folder (mode 2770, group ``socle``, the
    operators' group, when it exists); an operator outside it gets a one-line error.
    """
    env = os.environ.get("SOCLE_LOCK_DIR")
    path = Path(env) if env else LOCK_DIR
    if not path.is_dir():
        try:
            path.mkdir(mode=0o2770 if os.geteuid() == 0 else 0o700, parents=True, exist_ok=True)
            group = _operators_gid()
            if os.geteuid() == 0 and group is not None:
                os.chown(path, 0, group)
        except OSError as exc:
            raise SocleError(f"cannot make the lock folder {path}: {exc.strerror}",
                             hint="run './socle.sh setup' as root once (or set SOCLE_LOCK_DIR)") from None  # fmt: skip
    info = path.lstat()
    if path.is_symlink() or info.st_mode & stat.S_IWOTH or info.st_uid not in (0, os.geteuid()):
        raise SocleError(f"the lock folder {path} may be written by others",
                         hint=f"it must be root's (or yours) and not world-writable: chmod o-w {path}")  # fmt: skip
    return path


def _operators_gid() -> int | None:
    try:
        return grp.getgrnam("socle").gr_gid
    except KeyError:
        return None


def _lock_file(resource: Path | str) -> Path:
    real = os.path.realpath(resource)
    digest = hashlib.sha256(real.encode()).hexdigest()[:16]
    name = "".join(c if c.isalnum() or c in "-_." else "_" for c in Path(real).name)[:40]
    return lock_dir() / f"{name}-{digest}.lock"


@contextlib.contextmanager
def locked(resource: Path | str, *, what: str = "", wait_s: float | None = None) -> Iterator[None]:
    """Hold the lock of ``resource`` (a file or a named resource such as a port); wait for it first.

    The second operator waits up to ``wait_s`` (default ``SOCLE_LOCK_WAIT``, 120 s) and then gets
    a clear error naming who holds it; the kernel drops the lock when the holder dies.
    """
    path = _lock_file(resource)
    wait_s = LOCK_WAIT_S if wait_s is None else wait_s
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o660)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
                    raise SocleError(
                        f"{what or resource} is being changed by {holder}",
                        hint=f"wait for it to finish and run the command again (waited {wait_s:.0f} s)",
                    ) from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({os.environ.get('USER') or os.getuid()})\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def write_atomic(path: Path, data: str | bytes, *, validate: Callable[[Path], None] | None = None,
                 mode: int | None = None) -> None:  # fmt: skip
    """Replace ``path`` with ``data`` all at once; ``validate(tmp)`` may refuse it (then nothing changes).

    The file keeps the old file's permissions (or ``mode``); the folder is fsynced after the rename.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    blob = data.encode() if isinstance(data, str) else data
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        elif path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        else:
            os.chmod(tmp, 0o666 & ~_umask())
        if validate is not None:
            validate(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def regular_file_in(path: Path, folder: Path) -> Path:
    """``path`` if it is a regular file (not a symlink, FIFO or device) inside ``folder``; else a located error.

    Data files come from merge requests: a symlink could make a report echo a file of the runner.
    """
    path = Path(path)
    if path.is_symlink():
        raise SocleError("symbolic links are not accepted here", where=str(path),
                         hint="commit the file itself, not a link to it")  # fmt: skip
    try:
        inside = path.resolve().is_relative_to(Path(folder).resolve())
    except OSError:
        inside = False
    if not inside:
        raise SocleError(f"the file is outside {folder}", where=str(path), hint=f"keep data files under {folder}")
    if path.exists() and not path.is_file():
        raise SocleError("not a regular file", where=str(path), hint="give a file, not a folder or a device")
    return path


def shorten(value: object, limit: int = 80) -> str:
    """A value echoed in a message: one line, at most ``limit`` characters."""
    text = " ".join(str(value).split()) if not isinstance(value, str) else value.replace("\n", "\\n")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_input(path: Path | str, *, max_bytes: int, what: str, encoding: str = "utf-8") -> str:
    """The text of a file given on the command line (a CSV export, a calendar): a regular file, not
    too big, decoded; every problem is one located error."""
    path = Path(path)
    try:
        if not path.is_file():
            hint = "give a file, not a folder" if path.is_dir() else f"give the path of the {what}"
            raise SocleError("not a file" if path.exists() else "file not found", where=str(path), hint=hint)
        if path.stat().st_size > max_bytes:
            raise SocleError(f"too large for a {what} (at most {max_bytes // 1024} KB)", where=str(path),
                             hint=f"is this really the {what}?")  # fmt: skip
        raw = path.read_bytes()
    except OSError as exc:
        raise SocleError(f"cannot read the file: {exc.strerror}", where=str(path)) from None
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SocleError("not UTF-8", where=f"{path}:{line}", hint=f"save the {what} as UTF-8") from None


def output_file(value: Path | str, option: str = "--output") -> Path:
    """A file a command is asked to write: a regular file (or a new one) outside the kernel's folders."""
    path = Path(value)
    real = Path(os.path.realpath(path))
    if (
        path.is_symlink()
        or (path.exists() and not path.is_file())
        or real.parts[1:2] in (("proc",), ("sys",), ("dev",))
    ):
        raise SocleError(f"{option} '{shorten(str(value), 60)}' is not a file this command may write",
                         hint="give the path of a new or regular file, e.g. reports/catalogue-check.xml")  # fmt: skip
    return path


def read_json(path: Path | str, *, what: str, max_bytes: int = 64 * 1024 * 1024) -> Any:
    """A JSON file written by another machine or run (a lycée serveur, a poste, an earlier run):
    parsed with a size limit; a truncated or corrupt file is one located error, never a traceback."""
    path = Path(path)
    text = read_input(path, max_bytes=max_bytes, what=what)
    try:
        return json.loads(text)
    except RecursionError:
        raise SocleError(f"{what} nests too deeply", where=str(path)) from None
    except json.JSONDecodeError as exc:
        raise SocleError(f"{what} is not valid JSON ({exc.msg}): truncated or corrupt",
                         where=f"{path}:{exc.lineno}:{exc.colno}",
                         hint="run the step that writes it again; nothing else was read from it") from None  # fmt: skip


def append_line(path: Path, line: str) -> None:
    """Append one line to a log that several runs share (interventions.jsonl): one write, under its lock."""
    with locked(path, what=f"{path.parent.name}/{path.name}"):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
