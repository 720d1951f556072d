"""Writers that leave either the whole new output or nothing, and the same bytes for the
same content (no timestamps), so DVC sees no change where there is none."""

import io
import json
import os
import shutil
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np

# The earliest time a zip entry can hold; any fixed value keeps the bytes stable.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def partial_path(path: Path, pid: int | None = None) -> Path:
    """Where process `pid` (this one by default) writes `path` before it is complete: a hidden
    sibling, named by the writer so that two never share one, that keeps the suffix (Keras and
    NumPy insist on theirs), never inside a DVC output folder."""
    return path.with_name(f".{path.stem}.partial-{os.getpid() if pid is None else pid}{path.suffix}")


def _left_by_dead_writers(path: Path) -> list[Path]:
    found = []
    for partial in path.parent.glob(f".{path.stem}.partial-*{path.suffix}"):
        writer = partial.name.removeprefix(f".{path.stem}.partial-").removesuffix(path.suffix)
        if writer.isdigit() and partial == partial_path(path, int(writer)) and not _alive(int(writer)):
            found.append(partial)
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _sync(path: Path) -> None:
    """Flush `path` (a file, or a folder's entries) to the disk, so a crash after the rename
    finds the new contents, not an empty file under the new name."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


@contextmanager
def replacing(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path to write a file or a folder at; once the block succeeds it
    replaces `path`, and if the block fails the temporary path is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = partial_path(path)
    for left in [partial, *_left_by_dead_writers(path)]:  # by runs that were killed
        _remove(left)
    try:
        yield partial
    except BaseException:
        _remove(partial)
        raise
    for written in [partial, *partial.rglob("*")] if partial.is_dir() else [partial]:
        _sync(written)
    if partial.is_dir():
        # A folder cannot replace another in one step; if killed in between, the output is
        # simply missing, never half-written.
        _remove(path)
    os.replace(partial, path)
    _sync(path.parent)


def write_bytes(path: Path | str, data: bytes) -> None:
    with replacing(path) as partial:
        partial.write_bytes(data)


def write_text(path: Path | str, text: str) -> None:
    write_bytes(path, text.encode())


def write_json(path: Path | str, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")


def zip_bytes(members: Mapping[str, bytes]) -> bytes:
    """A zip archive of `members`, in the given order, stored uncompressed, with fixed
    entry times."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=ZIP_EPOCH), data)
    return buffer.getvalue()


def npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_npz(path: Path | str, arrays: Mapping[str, np.ndarray]) -> None:
    """Like `np.savez`, but byte-identical for identical arrays, and atomic."""
    write_bytes(path, zip_bytes({f"{name}.npy": npy_bytes(a) for name, a in arrays.items()}))


def write_npy(path: Path | str, array: np.ndarray) -> None:
    with replacing(path) as partial, partial.open("wb") as file:
        np.save(file, array)
