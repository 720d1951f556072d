"""Stroke width, measured per digit (ink area over skeleton length), and brought to MNIST's for
digits written elsewhere (data.strokes); docs/elsewhere.md says why."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image

from mnist_transfer.data import framing

INK_LEVEL = 128  # a pixel at least half ink counts as ink
# MNIST's median stroke width over its 60,000 training digits, by `widths`
# (`python -m mnist_transfer.publishing.strokes widths`); the test digits' is 2.71.
MNIST_WIDTH = 2.67
# The 95th percentile of MNIST's training digits' widths (`widths` again): bolder strokes than
# this are rare in MNIST, and `capped` thins only those.
MNIST_WIDTH_CAP = 4.65
UPSCALE = 4  # thinned or thickened at 4x, so the width moves in quarter pixels


def _neighbours(binary: np.ndarray) -> list[np.ndarray]:
    """Each pixel's 8 neighbours, clockwise from the one above (P2 to P9 of Zhang and Suen)."""
    padded = np.pad(binary, ((0, 0), (1, 1), (1, 1)))
    inner = slice(1, -1)
    return [
        padded[:, :-2, inner],
        padded[:, :-2, 2:],
        padded[:, inner, 2:],
        padded[:, 2:, 2:],
        padded[:, 2:, inner],
        padded[:, 2:, :-2],
        padded[:, inner, :-2],
        padded[:, :-2, :-2],
    ]


def skeleton(binary: np.ndarray) -> np.ndarray:
    """Zhang and Suen's thinning of (n, h, w) booleans: one-pixel-wide lines."""
    kept = binary.astype(np.uint8)
    while True:
        removed_any = False
        for second in (False, True):
            around = _neighbours(kept)
            north, east, south, west = around[0], around[2], around[4], around[6]
            count = sum(around)
            ring = [*around, around[0]]
            transitions = sum((ring[i] == 0) & (ring[i + 1] == 1) for i in range(8))
            if second:
                open_side = (north * east * west == 0) & (north * south * west == 0)
            else:
                open_side = (north * east * south == 0) & (east * south * west == 0)
            removable = (kept == 1) & (count >= 2) & (count <= 6) & (transitions == 1) & open_side
            if removable.any():
                kept[removable] = 0
                removed_any = True
        if not removed_any:
            return kept.astype(bool)


def widths(images: np.ndarray) -> np.ndarray:
    """Each digit's stroke width in pixels: ink area over skeleton length; 0 for a blank one."""
    ink = images >= INK_LEVEL
    area = ink.sum(axis=(1, 2))
    length = skeleton(ink).sum(axis=(1, 2))
    return np.where(length > 0, area / np.maximum(length, 1), 0.0)


def _disk(radius: int) -> np.ndarray:
    rows, columns = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    return rows**2 + columns**2 <= radius * radius + radius  # rounder than a strict disk when small


def _morphed(levels: np.ndarray, radius: int, thinner: bool) -> np.ndarray:
    """Grey erosion (thinner) or dilation by a disk of `radius` pixels."""
    shape = _disk(radius)
    windows = sliding_window_view(np.pad(levels, radius), shape.shape)[..., shape]
    return windows.min(axis=-1) if thinner else windows.max(axis=-1)


def normalised(framed: np.ndarray, width: float = MNIST_WIDTH) -> np.ndarray:
    """A framed digit (28x28 uint8) with its strokes thinned or thickened to `width`, framed
    again; as it was if it has no ink to measure or thinning would leave none."""
    measured = widths(framed[None])[0]
    if measured == 0:
        return framed
    radius = round(abs(measured - width) * UPSCALE / 2)  # half the change on each side of a stroke
    if radius == 0:
        return framed
    side = framed.shape[0] * UPSCALE
    large = Image.fromarray(framed.astype(np.float32), mode="F").resize((side, side), Image.Resampling.BICUBIC)
    changed = _morphed(np.clip(np.asarray(large, dtype=np.float64), 0, 255), radius, thinner=measured > width)
    if changed.max() < framing.MIN_CONTRAST:
        return framed
    return framing.frame(changed)


def capped(framed: np.ndarray, cap: float = MNIST_WIDTH_CAP) -> np.ndarray:
    """A framed digit thinned to `cap` if its strokes are bolder, as it was otherwise: a digit
    whose width MNIST has plenty of is left alone, so MNIST's own digits barely change."""
    return normalised(framed, cap) if widths(framed[None])[0] > cap else framed
