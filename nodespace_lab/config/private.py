"""Private files: owner and mode checks, and writes readable by this user only.

Other local users must not read a knowledge base, plant a runtime file or
edit the trust list. Like Jupyter's runtime folder, a private folder is owned
by this user and writable by nobody else, and a private file is a regular
file owned by this user with no group or other permission bits.

Reads and writes go through a descriptor of the folder (`dir_fd`) with
`O_NOFOLLOW`, so a folder or file swapped between the check and the use is
never read or written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

#: Permission bits that let users other than the owner in.
OTHERS = 0o077
FOLDER_MODE = 0o700
FILE_MODE = 0o600


class NotPrivate(Exception):
    """A folder or file that other users could read or change (the message says how)."""


def user_name(uid: int) -> str:
    """`name (uid N)` for a user id, or just `uid N` when it has no name."""
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def describe(st: os.stat_result) -> str:
    """`owned by NAME (uid N), mode 0NNN`, for messages."""
    return f"owned by {user_name(st.st_uid)}, mode {stat.S_IMODE(st.st_mode):04o}"


def folder_problem(st: os.stat_result, path: Path) -> str | None:
    """Why the folder `path` (stat `st`) could be changed by another user, or None."""
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a folder"
    if st.st_uid != os.getuid():
        return f"folder {path} is {describe(st)}, and you are {user_name(os.getuid())}"
    if st.st_mode & 0o022:
        return f"folder {path} is writable by other users ({describe(st)})"
    return None


def file_problem(st: os.stat_result, path: Path) -> str | None:
    """Why the file `path` (stat `st`) is not this user's private file, or None."""
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_uid != os.getuid():
        return f"file {path} is {describe(st)}, and you are {user_name(os.getuid())}"
    if st.st_mode & OTHERS:
        return f"file {path} is open to other users ({describe(st)}; it must be 0600)"
    return None


@contextlib.contextmanager
def _folder_fd(folder: Path) -> Iterator[int]:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        problem = folder_problem(os.fstat(fd), folder)
        if problem:
            raise NotPrivate(problem)
        yield fd
    finally:
        os.close(fd)


def read_private(path: Path) -> str | None:
    """The text of `path` if it and its folder are private; None if either is missing.

    Raises `NotPrivate` when the folder could be changed by another user or
    the file is not this user's own 0600 regular file.
    """
    try:
        with _folder_fd(path.parent) as dir_fd:
            # O_NONBLOCK: a planted FIFO must not hang us before fstat refuses it.
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
            fd = os.open(path.name, flags, dir_fd=dir_fd)
            with os.fdopen(fd, "r", encoding="utf-8") as handle:
                problem = file_problem(os.fstat(handle.fileno()), path)
                if problem:
                    raise NotPrivate(problem)
                return handle.read()
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a symlink
            raise NotPrivate(f"{path} is a symbolic link, not a regular file") from None
        raise


def ensure_private_folder(folder: Path) -> None:
    """Create `folder` (mode 0700) if missing; raise `NotPrivate` if it is not ours alone."""
    folder.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
    problem = folder_problem(folder.stat(), folder)
    if problem:
        raise NotPrivate(problem)


def write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with `text`, mode 0600, in a private folder.

    The text goes to a new file made with O_EXCL next to the target, which
    is then renamed over it: a reader sees the old or the new file, whole.
    """
    ensure_private_folder(path.parent)
    with _folder_fd(path.parent) as dir_fd:
        partial = f".{path.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(partial, flags, FILE_MODE, dir_fd=dir_fd)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                os.fchmod(out.fileno(), FILE_MODE)  # whatever the umask
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, path.name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(partial, dir_fd=dir_fd)
            raise


# -- trees: a knowledge-base folder and everything in it -----------------------


def loose_entries(root: Path) -> Iterator[tuple[Path, os.stat_result]]:
    """`root` and every file or folder under it that other users may use, or not ours.

    Symbolic links are reported as they are and never followed.
    """
    try:
        st = root.lstat()
    except FileNotFoundError:
        return
    if _is_loose(st):
        yield root, st
    if stat.S_ISDIR(st.st_mode):
        try:
            children = sorted(root.iterdir())
        except FileNotFoundError:  # removed meanwhile (a merged index segment)
            return
        for child in children:
            yield from loose_entries(child)


def _is_loose(st: os.stat_result) -> bool:
    if stat.S_ISLNK(st.st_mode):
        return False  # a link's own mode means nothing; its target is checked where it is
    return st.st_uid != os.getuid() or bool(st.st_mode & OTHERS)


def tighten(root: Path) -> list[Path]:
    """Remove group and other permissions from `root` and everything under it that is ours.

    Returns the paths that were changed. Entries owned by someone else and
    symbolic links are left alone (and stay in `loose_entries`).
    """
    changed = []
    for path, st in list(loose_entries(root)):
        if st.st_uid == os.getuid() and not stat.S_ISLNK(st.st_mode):
            with contextlib.suppress(FileNotFoundError):  # removed meanwhile
                path.chmod(stat.S_IMODE(st.st_mode) & ~OTHERS)
                changed.append(path)
    return changed


def is_private_folder(path: Path) -> bool:
    """True when `path` is a folder of ours that nobody else may enter."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & OTHERS


def keep_private(root: Path) -> None:
    """If the folder `root` is private, make everything in it private too.

    The engine and the search indexes create their files with the process
    umask (usually 0644); inside a 0700 folder nobody else can reach them,
    and this makes them 0600 as well. A folder the user opened up on purpose
    is left as it is (`nodespace doctor` reports it).
    """
    if is_private_folder(root):
        tighten(root)


def make_private_kb_folder(path: Path) -> None:
    """Make the folder of a new knowledge base ours alone (0700), when it is ours."""
    st = path.stat()
    if st.st_uid == os.getuid() and st.st_mode & OTHERS:
        path.chmod(stat.S_IMODE(st.st_mode) & ~OTHERS)
