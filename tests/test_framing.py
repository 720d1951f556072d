"""MNIST's framing of a digit that did not come from MNIST: grey, light on dark, cropped to
the ink, fitted to 20x20 keeping its shape, centred by its mass in 28x28."""

import numpy as np
import pytest
from PIL import Image

from mnist_transfer.core.errors import InputError
from mnist_transfer.data import framing


@pytest.fixture(scope="module")
def test_digits(mnist_arrays) -> np.ndarray:
    return mnist_arrays["x_test"][:200]


def as_users_send_it(digit: np.ndarray, rng: np.random.Generator) -> Image.Image:
    """An MNIST digit as a user's picture: enlarged 2-4x (each pixel a block), dark ink on
    light paper, off-centre on a larger canvas, in RGB."""
    scale = int(rng.integers(2, 5))
    enlarged = np.kron(255 - digit, np.ones((scale, scale), dtype=np.uint8))
    canvas = np.full((enlarged.shape[0] + 70, enlarged.shape[1] + 110), 255, dtype=np.uint8)
    top, left = int(rng.integers(0, 70)), int(rng.integers(0, 110))
    canvas[top : top + enlarged.shape[0], left : left + enlarged.shape[1]] = enlarged
    return Image.fromarray(canvas).convert("RGB")


def centre_of_mass(digit: np.ndarray) -> tuple[float, float]:
    rows, columns = np.indices(digit.shape)
    return (rows * digit).sum() / digit.sum(), (columns * digit).sum() / digit.sum()


def test_mnist_digits_sent_as_users_send_them_come_back_as_they_were(test_digits):
    rng = np.random.default_rng(0)
    framed = np.stack([framing.frame_image(as_users_send_it(digit, rng)) for digit in test_digits])
    difference = np.abs(framed.astype(int) - test_digits.astype(int))
    # Whole-pixel blocks averaged back give MNIST's pixels; a digit whose faintest edge row
    # falls under the crop level is scaled a little, and only there do pixels differ.
    assert difference.mean() < 1, difference.mean()
    assert (difference.max(axis=(1, 2)) <= 2).mean() > 0.9


def test_an_mnist_digit_is_already_framed(test_digits):
    framed = np.stack([framing.frame(np.pad(digit.astype(float), 9)) for digit in test_digits])
    assert np.abs(framed.astype(int) - test_digits.astype(int)).mean() < 1


def test_dark_on_light_and_light_on_dark_frame_alike(test_digits):
    digit = test_digits[0].astype(float)
    np.testing.assert_array_equal(framing.frame(255 - digit), framing.frame(digit))


def test_the_longer_side_fills_20_pixels_and_the_shape_is_kept():
    bar = np.zeros((300, 200))
    bar[50:250, 90:110] = 255  # 200 tall, 20 wide: 20 x 2 once framed
    framed = framing.frame(bar)
    rows, columns = np.flatnonzero(framed.any(axis=1)), np.flatnonzero(framed.any(axis=0))
    assert (len(rows), len(columns)) == (20, 2)
    assert framed.shape == (28, 28) and framed.dtype == np.uint8


def test_a_small_digit_is_enlarged_to_the_box():
    small = np.zeros((12, 12))
    small[1:11, 3:9] = 200  # 10 x 6
    framed = framing.frame(small)
    solid = framed >= framing.CROP_LEVEL * 255  # bicubic enlarging fades the edge a little past it
    assert np.flatnonzero(solid.any(axis=1)).size == 20
    assert framed.max() == 255


def seven(canvas: np.ndarray, top: int, left: int) -> None:
    """A heavy stroke down the left and a light bar along the top: mass and box differ."""
    canvas[top : top + 100, left : left + 20] = 20
    canvas[top : top + 10, left : left + 60] = 20


@pytest.mark.parametrize("where", [(0, 0), (500, 20), (220, 480)])
def test_the_centre_of_mass_lands_at_mnists(where):
    canvas = np.full((600, 600), 230.0)
    seven(canvas, *where)
    framed = framing.frame(canvas).astype(float)
    row, column = centre_of_mass(framed)
    assert abs(row - 14) <= 0.5 and abs(column - 14) <= 0.5


def test_a_digit_whose_mass_lies_far_off_its_centre_stays_whole_in_the_field():
    canvas = np.full((300, 300), 255.0)
    canvas[50:250, 50:90] = 0  # a heavy stroke on the left of a 200 x 200 box
    canvas[50:52, 50:250] = 128  # a faint one across its top
    framed = framing.frame(canvas)
    # Centred by mass, the box would start at column 11 and lose its right end; it stops at the edge.
    assert np.flatnonzero(framed.any(axis=0)).tolist() == list(range(8, 28))


def test_a_transparent_png_is_ink_on_white_paper(test_digits):
    digit = test_digits[3]
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = digit  # black ink, its coverage in the alpha channel; the rest see-through
    framed = framing.frame_image(Image.fromarray(rgba, mode="RGBA"))
    np.testing.assert_array_equal(framed, framing.frame(digit.astype(float)))


def test_16_bit_grey_is_read_as_8_bit(test_digits):
    digit = test_digits[5]
    sixteen = Image.fromarray((255 - digit).astype(np.uint16) * 257)
    assert sixteen.mode.startswith("I")
    np.testing.assert_array_equal(framing.frame_image(sixteen), framing.frame(255 - digit.astype(float)))


def test_paper_grain_is_not_ink(test_digits):
    rng = np.random.default_rng(1)
    digit = test_digits[7].astype(float)
    photo = np.kron(200 - digit * 0.6, np.ones((4, 4))) + rng.normal(0, 6, (112, 112))
    clean = framing.frame(np.kron(255 - digit, np.ones((4, 4))))
    assert np.abs(framing.frame(photo).astype(int) - clean.astype(int)).mean() < 6


@pytest.mark.parametrize("shade", [0, 128, 255])
def test_a_blank_image_has_no_digit(shade):
    flat = np.full((50, 80), float(shade)) + np.random.default_rng(0).normal(0, 2, (50, 80))
    with pytest.raises(InputError, match=r"^no digit: the image is blank"):
        framing.frame(flat)
