"""Every reader of a user's file, fuzzed: whatever the bytes, a bad file (or CSV row) costs one
line naming it, never a traceback, and the good inputs read beside it are read as they are alone.

The examples per reader fit the suite's time; `HYPOTHESIS_PROFILE=fuzz python -m pytest
tests/test_fuzz.py` runs a hundred times as many (docs/design.md)."""

import gzip
import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from mnist_transfer.core.errors import InputError
from mnist_transfer.data import mnist, readers
from tests.conftest import tiny_arrays, write_idx_folder

settings.register_profile("suite", max_examples=150, deadline=None, derandomize=True)
settings.register_profile("fuzz", max_examples=15_000, deadline=None)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "suite")
settings.load_profile(PROFILE)
# Each weights file builds VGG16 (about half a second).
FEW = settings(max_examples=40 if PROFILE == "suite" else 1000, suppress_health_check=[HealthCheck.too_slow])

HEADER = ",".join(readers.PIXELS)
CELLS = st.one_of(
    st.integers(0, 255).map(str),
    st.sampled_from(["", " ", "-1", "256", "300", "12.0", "2.5", "1e2", "nan", "NaN", "inf", "-0", '"7"', '""', "x"]),
    st.text(max_size=6),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


def one_line(message: str) -> bool:
    return bool(message) and "\n" not in message and "\r" not in message and "Traceback" not in message


def good_csv(folder: Path) -> Path:
    rows = np.random.default_rng(0).integers(0, 256, (3, len(readers.PIXELS)))
    path = folder / "good.csv"
    path.write_text(HEADER + "\n" + "\n".join(",".join(map(str, row)) for row in rows) + "\n")
    return path


def good_png(folder: Path) -> Path:
    image = Image.new("L", (40, 40), 255)
    image.paste(0, (15, 8, 25, 32))
    path = folder / "good.png"
    image.save(path)
    return path


def read_beside_good_ones(name: str, data: bytes) -> list[readers.Item]:
    """`data` as file `name` read between two good inputs: the good ones must come out as they
    do alone, and every failure must be one line."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        goods = [good_png(folder), good_csv(folder)]
        alone = readers.read_inputs([str(p) for p in goods])
        (folder / name).write_bytes(data)
        items = readers.read_inputs([str(goods[0]), str(folder / name), str(goods[1])])
    beside = [item for item in items if not item.file.endswith(name)]
    assert [(i.file, i.row, i.error) for i in beside] == [(i.file, i.row, i.error) for i in alone]
    for mine, theirs in zip(beside, alone, strict=True):
        np.testing.assert_array_equal(mine.digit, theirs.digit)
    fuzzed = [item for item in items if item.file.endswith(name)]
    assert fuzzed, "a file read as nothing at all"
    for item in fuzzed:
        assert (item.digit is None) != (item.error is None)
        if item.error is not None:
            assert one_line(item.error), item.error
        else:
            assert item.digit.shape == (28, 28) and item.digit.dtype == np.uint8
    return fuzzed


@st.composite
def kaggle_like_csvs(draw) -> bytes:
    header = draw(
        st.sampled_from(
            [HEADER, "label," + HEADER, "", "label,label," + HEADER, HEADER + ",pixel784", "pixel0,pixel0", "ImageId"]
        )
    )
    width = len(header.split(",")) if header else 0
    rows = draw(
        st.lists(
            st.one_of(
                st.lists(CELLS, min_size=width, max_size=width),  # the right length, odd cells
                st.lists(CELLS, max_size=12),  # short, or empty
                st.just(["0"] * width),  # a good row
            ),
            max_size=4,
        )
    )
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    text = newline.join([header, *(",".join(row) for row in rows)]) + draw(st.sampled_from(["", newline]))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + text.encode()


@given(kaggle_like_csvs())
def test_a_kaggle_csv_of_any_rows_costs_one_line_per_bad_row(data):
    read_beside_good_ones("fuzzed.csv", data)


def test_a_short_last_row_is_one_line_and_the_rows_before_it_are_read():
    rows = [",".join(["0"] * 784), ",".join(["0"] * 10)]
    items = read_beside_good_ones("short.csv", (HEADER + "\n" + "\n".join(rows) + "\n").encode())
    assert [(item.row, item.error) for item in items] == [(1, None), (2, "10 cells, the header has 784")]


@given(st.binary(max_size=3000))
def test_random_bytes_as_a_csv_cost_one_line(data):
    read_beside_good_ones("random.csv", data)


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (30, 30), 255).save(buffer, format="PNG")
    return buffer.getvalue()


@given(st.one_of(st.binary(max_size=2000), st.integers(0, 200).map(lambda n: png_bytes()[:n])))
def test_random_or_truncated_bytes_as_an_image_cost_one_line(data):
    read_beside_good_ones("fuzzed.png", data)


@given(st.binary(min_size=1, max_size=400))
def test_a_png_with_bytes_after_it_or_inside_it_costs_at_most_one_line(tail):
    png = png_bytes()
    read_beside_good_ones("padded.png", png + tail)
    middle = len(png) // 2
    read_beside_good_ones("damaged.png", png[:middle] + tail + png[middle + len(tail) :])


@st.composite
def idx_mutations(draw) -> tuple[str, bytes]:
    """One IDX file of a good folder, replaced: random bytes, cut, padded, or its header changed."""
    key = draw(st.sampled_from(list(mnist.IDX_FILES)))
    return key, draw(
        st.one_of(
            st.binary(max_size=64),
            st.tuples(st.integers(0, 3), st.integers(0, 255)).map(lambda change: ("magic", *change)),
            st.tuples(st.integers(4, 15), st.integers(0, 255)).map(lambda change: ("header", *change)),
            st.integers(0, 200).map(lambda n: ("cut", n)),
            st.binary(min_size=1, max_size=20).map(lambda b: ("pad", b)),
        )
    )


def mutated(data: bytes, how) -> bytes:
    if isinstance(how, bytes):
        return how
    kind, *args = how
    if kind in ("magic", "header"):
        position, value = args
        return data[:position] + bytes([value]) + data[position + 1 :]
    if kind == "cut":
        return data[: args[0]]
    return data + args[0]


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzipped"])
@given(change=idx_mutations())
def test_an_idx_folder_with_any_file_changed_loads_or_is_one_line(gzipped, change):
    key, how = change
    arrays = tiny_arrays()
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder) / "idx"
        write_idx_folder(folder, arrays, gzipped=gzipped)
        path = folder / (mnist.IDX_FILES[key] + (".gz" if gzipped else ""))
        raw = gzip.decompress(path.read_bytes()) if gzipped else path.read_bytes()
        changed = mutated(raw, how)
        path.write_bytes(gzip.compress(changed, mtime=0) if gzipped and not isinstance(how, bytes) else changed)
        try:
            loaded, _ = mnist.load(str(folder))
        except InputError as error:
            assert one_line(str(error)) and str(folder) in str(error), str(error)
        else:
            for name, array in loaded.items():
                assert array.dtype == np.uint8 and len(array) == len(loaded[f"y_{name.split('_')[1]}"])


@given(st.one_of(st.binary(max_size=500), st.integers(0, 2000)))
def test_an_npz_source_of_any_bytes_loads_or_is_one_line(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "source.npz"
        if isinstance(data, int):
            np.savez(path, **tiny_arrays())
            data = path.read_bytes()[:data]
        path.write_bytes(data)
        try:
            mnist.load(str(path))
        except InputError as error:
            assert one_line(str(error)) and str(path) in str(error), str(error)


@pytest.fixture(scope="module")
def small_weights_file(tmp_path_factory) -> bytes:
    """A real Keras .weights.h5, of a model that is not VGG16."""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    path = tmp_path_factory.mktemp("weights") / "other.weights.h5"
    model.save_weights(path)
    return path.read_bytes()


@FEW
@given(how=st.one_of(st.binary(max_size=300), st.integers(0, 4000)))
def test_a_weights_file_of_any_bytes_is_one_line(small_weights_file, how):
    from mnist_transfer.backbones import pretrained

    data = small_weights_file[:how] if isinstance(how, int) else b"\x89HDF\r\n\x1a\n" + how
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vgg16.weights.h5"
        path.write_bytes(data)
        with pytest.raises(InputError) as error:
            pretrained.conv_base("vgg16", str(path), 32)
    assert one_line(str(error.value)) and str(path) in str(error.value), str(error.value)


@given(
    ndim=st.integers(0, 255),
    dimensions=st.lists(st.integers(0, 2**32 - 1), max_size=6),
    body=st.binary(max_size=64),
    gzipped=st.booleans(),
)
def test_a_crafted_idx_header_is_one_line_whatever_it_announces(ndim, dimensions, body, gzipped):
    header = b"\x00\x00\x08" + bytes([ndim]) + b"".join(d.to_bytes(4, "big") for d in dimensions)
    data = header + body
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / ("images.gz" if gzipped else "images")
        path.write_bytes(gzip.compress(data) if gzipped else data)
        try:
            array = mnist._read_idx(path)
        except InputError as error:
            assert one_line(str(error))
        else:
            assert array.size == len(data) - 4 - 4 * ndim


@given(shape=st.lists(st.integers(0, 2**40), min_size=1, max_size=4), dtype=st.sampled_from(["u1", "<f4", "<i8"]))
def test_a_crafted_npz_header_is_one_line_before_memory_is_spent(shape, dtype):
    arrays = {key: np.zeros((1, 28, 28) if key.startswith("x") else 1, np.uint8) for key in mnist.KEYS}
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "crafted.npz"
        header = io.BytesIO()
        np.lib.format.write_array_header_2_0(header, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)})
        with zipfile.ZipFile(path, "w") as archive:
            for key, array in arrays.items():
                if key == "x_train":
                    continue
                member = io.BytesIO()
                np.save(member, array)
                archive.writestr(f"{key}.npy", member.getvalue())
            archive.writestr("x_train.npy", header.getvalue() + bytes(16))
        with pytest.raises(InputError) as error:  # no shape holds in 16 bytes but the empty ones
            arrays = mnist.load_npz(path)
            mnist.check_arrays(arrays, str(path))
        assert one_line(str(error.value))


@given(data=st.binary(max_size=256))
def test_any_bytes_as_a_gzip_are_one_line_or_their_contents(data):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "file.gz"
        path.write_bytes(data)
        try:
            out = mnist.gunzipped(path, limit=1024)
        except InputError as error:
            assert one_line(str(error))
        else:
            assert out == gzip.decompress(data)
