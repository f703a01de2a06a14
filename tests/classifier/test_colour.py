"""The pixel colour features: the coarse part agrees with a plain float64
reference on real photos, and the shade part separates the shades that the
coarse part mixes up."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from classifier.colour import (
    _COARSE_DIM,
    _SHADE_BINS,
    COLOUR_FEATURE_DIM,
    MAX_COLOUR_PIXELS,
    pixel_colour_features,
)
from classifier.images import load_image


def _reference_features(pixels: np.ndarray, *, grid: bool = True) -> np.ndarray:
    """Compute the coarse features step by step in float64, as the docstring describes them."""
    whole = pixels.astype(np.float64)
    border = np.concatenate([whole[0], whole[-1], whole[:, 0], whole[:, -1]])
    background = np.median(border, axis=0)
    if grid:
        step = 1
        while pixels[::step, ::step].shape[0] * pixels[::step, ::step].shape[1] > MAX_COLOUR_PIXELS:
            step += 1
        pixels = pixels[::step, ::step]
    rgb = pixels.astype(np.float64)
    mask = np.linalg.norm(rgb - background, axis=2) > 40.0
    share = mask.mean()
    product = rgb[mask] if share >= 0.01 else rgb.reshape(-1, 3)

    histogram = np.zeros(64)
    for r, g, b in (product * 4 / 256).astype(int):
        histogram[r * 16 + g * 4 + b] += 1
    histogram /= max(histogram.sum(), 1.0)

    srgb = product / 255.0
    linear = np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4)
    matrix = np.array(
        [
            [0.4124564, 0.3575761, 0.1804375],
            [0.2126729, 0.7151522, 0.0721750],
            [0.0193339, 0.1191920, 0.9503041],
        ]
    )
    xyz = linear @ matrix.T / np.array([0.95047, 1.0, 1.08883])
    delta = 6 / 29
    f = np.where(xyz > delta**3, np.cbrt(xyz), xyz / (3 * delta**2) + 4 / 29)
    lab = np.stack(
        [
            (116 * f[:, 1] - 16) / 100,
            500 * (f[:, 0] - f[:, 1]) / 128,
            200 * (f[:, 1] - f[:, 2]) / 128,
        ],
        axis=1,
    ).mean(axis=0)
    return np.concatenate([histogram, lab, [share]])


@pytest.mark.parametrize("catalog", ["hm-week", "hm-2y"])
def test_features_match_the_reference_on_real_photos(shared_data: Path, catalog: str) -> None:
    photos = sorted((shared_data / catalog / "images").glob("*.jpg"))[::400][:8]
    assert photos
    for photo in photos:
        pixels = np.asarray(load_image(photo))
        np.testing.assert_allclose(
            pixel_colour_features(pixels)[:_COARSE_DIM],
            _reference_features(pixels),
            atol=1e-5,
            err_msg=str(photo),
        )


def test_grid_sample_stays_near_all_pixels(shared_data: Path) -> None:
    photos = sorted((shared_data / "hm-week" / "images").glob("*.jpg"))[::500][:6]
    for photo in photos:
        pixels = np.asarray(load_image(photo))
        assert pixels.shape[0] * pixels.shape[1] > MAX_COLOUR_PIXELS
        np.testing.assert_allclose(
            pixel_colour_features(pixels)[:_COARSE_DIM],
            _reference_features(pixels, grid=False),
            atol=0.02,
            err_msg=str(photo),
        )


def test_white_item_on_white_uses_the_whole_photo() -> None:
    pixels = np.full((60, 40, 3), 250, dtype=np.uint8)
    pixels[10:12, 10:12] = 230
    features = pixel_colour_features(pixels)[:_COARSE_DIM]
    np.testing.assert_allclose(features, _reference_features(pixels), atol=1e-5)
    assert features[-1] < 0.01


def _photo_of(*colours: tuple[tuple[int, int, int], float]) -> np.ndarray:
    """A 200x120 light photo with stacked patches of the given colours and shares."""
    pixels = np.full((200, 120, 3), 242, dtype=np.uint8)
    top = 40
    for colour, share in colours:
        rows = round(120 * share)
        pixels[top : top + rows, 20:100] = colour
        top += rows
    return pixels


def _shade_histogram(features: np.ndarray) -> np.ndarray:
    return features[_COARSE_DIM : _COARSE_DIM + _SHADE_BINS]


def test_shade_features_tell_dark_green_from_black() -> None:
    black = pixel_colour_features(_photo_of(((12, 12, 12), 1.0)))
    green = pixel_colour_features(_photo_of(((20, 55, 30), 1.0)))
    assert black.shape == green.shape == (COLOUR_FEATURE_DIM,)
    # Both fall into the darkest cell of the coarse RGB histogram...
    assert black[:64].argmax() == green[:64].argmax() == 0
    # ...but into different shade bins: a neutral one and a chromatic one.
    for features in (black, green):
        assert _shade_histogram(features).sum() == pytest.approx(1.0)
    assert _shade_histogram(black).argmax() == 0
    assert _shade_histogram(green).argmax() >= 6
    assert _shade_histogram(black) @ _shade_histogram(green) == 0


def test_main_colours_come_largest_first() -> None:
    features = pixel_colour_features(_photo_of(((200, 30, 40), 0.7), ((30, 40, 190), 0.3)))
    main = features[-3 - 12 : -3].reshape(3, 4)
    red, blue = main[0], main[1]
    assert red[3] == pytest.approx(0.7, abs=0.02)
    assert blue[3] == pytest.approx(0.3, abs=0.02)
    # CIELAB: red has a large positive a, blue a large negative b.
    assert red[1] > 0.4
    assert blue[2] < -0.4
    assert main[2, 3] == pytest.approx(0.0, abs=0.02)


def _on_backdrop(colour: tuple[int, int, int]) -> np.ndarray:
    """A 200x120 photo of a red patch on a backdrop of `colour`."""
    pixels = np.full((200, 120, 3), colour, dtype=np.uint8)
    pixels[60:140, 30:90] = (200, 30, 40)
    return pixels


@pytest.mark.parametrize("backdrop", [(15, 15, 15), (70, 70, 70), (40, 70, 160), (200, 170, 120)])
def test_dark_or_coloured_backdrop_reads_as_typical(backdrop: tuple[int, int, int]) -> None:
    typical = pixel_colour_features(_on_backdrop((228, 227, 225)))
    other = pixel_colour_features(_on_backdrop(backdrop))
    np.testing.assert_allclose(other[-3:], typical[-3:], atol=1e-6)
    # The product pixels are measured as on the typical backdrop.
    np.testing.assert_allclose(other[:-3], typical[:-3], atol=1e-6)


def test_light_backdrop_keeps_its_own_colour() -> None:
    light = pixel_colour_features(_on_backdrop((190, 190, 188)))
    typical = pixel_colour_features(_on_backdrop((228, 227, 225)))
    # CIELAB lightness / 100: a backdrop of 190 grey is darker than one of 228.
    assert light[-3] < typical[-3] - 0.1
