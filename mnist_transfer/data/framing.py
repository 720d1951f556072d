"""MNIST's own framing, for digits that did not come from MNIST: grey, light ink on a dark
background, cropped to the ink, scaled to fit a 20x20 box keeping its aspect ratio
(anti-aliased), and centred by its centre of mass in a 28x28 field, as LeCun and Cortes
framed NIST's digits. Both models were trained on digits framed so, and see nothing else."""

import numpy as np
from PIL import Image, ImageOps

from mnist_transfer.core import digits
from mnist_transfer.core.errors import InputError

BOX = 20  # the longer side of the digit in the field
# Where MNIST's digits have their centre of mass: (14.0, 14.0) in pixel indices, within a
# sd of 0.29 over the test set, as whole-pixel shifts leave it.
CENTRE = (14, 14)
# Less contrast than this (of 255) between the background and the strongest mark is no
# ink at all: a blank page, one flat colour.
MIN_CONTRAST = 32
# The paper's own variation, in robust standard deviations of the border: fainter than
# this is grain or noise, not ink. At least one grey level.
NOISE_SDS = 3
# The crop: where the ink is at least this share of its strongest. The digit's extent on
# paper is where the ink covers the paper, not where its blurred or anti-aliased edge
# fades out: MNIST's 20-pixel box is that of NIST's black-and-white digits. 0.4 finds
# the 20 pixels of MNIST's own digits enlarged 2-4x, whichever way they were enlarged.
CROP_LEVEL = 0.4
# What of the ink's surroundings is kept around the box, in new pixels: as much as the field
# has around a box of BOX.
MARGIN = (digits.SHAPE[0] - BOX) // 2


def grey(image: Image.Image) -> np.ndarray:
    """The image as grey levels 0-255 (float): the right way up as the camera held it,
    transparency laid on white paper, 16-bit greys brought down to 8 bits."""
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I"):  # 16-bit grey (PNG, TIFF), read as 32-bit integers
        return np.asarray(image, dtype=np.float64) * (255 / 65535)
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        image = Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA"))
    return np.asarray(image.convert("L"), dtype=np.float64)


def ink(levels: np.ndarray) -> np.ndarray:
    """Grey levels as MNIST's ink: the background (the median of the border) 0, inverted
    when it is light, the strongest ink 255, the paper's grain and noise 0."""
    border = np.concatenate([levels[0], levels[-1], levels[:, 0], levels[:, -1]])
    background = float(np.median(border))
    light = background > 127.5
    strength = np.clip(background - levels if light else levels - background, 0, None)
    noise = max(1.0, NOISE_SDS * 1.4826 * float(np.median(np.abs(border - background))))
    contrast = float(strength.max())
    if contrast < max(MIN_CONTRAST, 2 * noise):
        raise InputError(
            f"no digit: the image is blank ({'light' if light else 'dark'} background, its strongest mark "
            f"{contrast:.0f} of 255 from it, under {max(MIN_CONTRAST, 2 * noise):.0f})"
        )
    strength[strength < noise] = 0
    return strength * (255 / contrast)


def fit_box(strength: np.ndarray) -> np.ndarray:
    """The ink scaled so that where it is solid (CROP_LEVEL strong) fits BOX pixels, its
    aspect ratio kept, with MARGIN pixels of what surrounds that box (a fading edge) on
    every side. Reduced by averaging over each new pixel's area (anti-aliased, as MNIST's
    digits are: each pixel the share of it that ink covers), enlarged bicubically."""
    solid = strength >= CROP_LEVEL * 255
    rows, columns = np.flatnonzero(solid.any(axis=1)), np.flatnonzero(solid.any(axis=0))
    height, width = rows[-1] + 1 - rows[0], columns[-1] + 1 - columns[0]
    scale = BOX / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # The source region that lands in the box and its margin: source pixels per new pixel
    # times MARGIN on each side, read from zeros where it runs past the image.
    step_x, step_y = width / size[0], height / size[1]
    pad = int(np.ceil(MARGIN * max(step_x, step_y))) + 1
    region = (
        columns[0] + pad - MARGIN * step_x,
        rows[0] + pad - MARGIN * step_y,
        columns[-1] + 1 + pad + MARGIN * step_x,
        rows[-1] + 1 + pad + MARGIN * step_y,
    )
    resampling = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC
    padded = Image.fromarray(np.pad(strength, pad).astype(np.float32), mode="F")
    resized = padded.resize((size[0] + 2 * MARGIN, size[1] + 2 * MARGIN), resampling, box=region)
    return np.clip(np.asarray(resized, dtype=np.float64), 0, 255)


def centre_by_mass(boxed: np.ndarray) -> np.ndarray:
    """`boxed` (a box with MARGIN pixels around it) placed in the 28x28 field with its
    centre of mass at CENTRE, in whole pixels, the box never past the field's edge; what
    of the margin falls outside the field is cut."""
    field = np.zeros(digits.SHAPE, dtype=np.float64)
    rows, columns = np.indices(boxed.shape)
    mass = boxed.sum()
    centre_row, centre_column = (rows * boxed).sum() / mass, (columns * boxed).sum() / mass
    box_height, box_width = boxed.shape[0] - 2 * MARGIN, boxed.shape[1] - 2 * MARGIN
    top = int(np.clip(round(CENTRE[0] - centre_row), -MARGIN, digits.SHAPE[0] - box_height - MARGIN))
    left = int(np.clip(round(CENTRE[1] - centre_column), -MARGIN, digits.SHAPE[1] - box_width - MARGIN))
    source = boxed[max(0, -top) : digits.SHAPE[0] - top, max(0, -left) : digits.SHAPE[1] - left]
    field[max(0, top) : max(0, top) + source.shape[0], max(0, left) : max(0, left) + source.shape[1]] = source
    return field


def frame(levels: np.ndarray) -> np.ndarray:
    """A digit's grey levels (any size, dark ink on light paper or light on dark) framed
    as MNIST frames its digits: 28x28 uint8, light ink on black."""
    return np.round(centre_by_mass(fit_box(ink(levels)))).astype(np.uint8)


def frame_image(image: Image.Image) -> np.ndarray:
    """`frame` of a Pillow image of any mode."""
    return frame(grey(image))


def deslanted(framed: np.ndarray) -> np.ndarray:
    """A framed digit sheared upright by its moments (the slant of its principal axis from
    the vertical, as LeCun's deskewed MNIST), framed again."""
    levels = framed.astype(np.float64)
    mass = levels.sum()
    if mass == 0:
        return framed
    rows, columns = np.indices(levels.shape)
    centre_row, centre_column = (rows * levels).sum() / mass, (columns * levels).sum() / mass
    row_variance = ((rows - centre_row) ** 2 * levels).sum() / mass
    covariance = ((rows - centre_row) * (columns - centre_column) * levels).sum() / mass
    slant = covariance / row_variance  # columns moved per row
    # Each output pixel (x, y) reads the input at (x + slant * (y - centre_row), y).
    sheared = Image.fromarray(levels.astype(np.float32), mode="F").transform(
        levels.shape[::-1],
        Image.Transform.AFFINE,
        (1, slant, -slant * centre_row, 0, 1, 0),
        resample=Image.Resampling.BILINEAR,
    )
    return frame(np.clip(np.asarray(sheared, dtype=np.float64), 0, 255))
