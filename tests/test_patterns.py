"""Treatment layouts: column count and spacing at a given density, reproducible random passes."""

import math

import numpy as np
import pytest

from meshes.patterns import (hex_pitch, make_layout, nearest_neighbour_distances,
                             square_pitch)

DENSITY = 400e4  # 400 columns per cm2, in 1/m^2
PITCH = square_pitch(DENSITY)  # 500 um


def test_unit_and_quarter_cell():
    unit = make_layout("unit_cell", DENSITY)
    assert PITCH == pytest.approx(500e-6)
    assert unit.extent == pytest.approx((-PITCH / 2, PITCH / 2, -PITCH / 2, PITCH / 2))
    assert unit.centres == ((0.0, 0.0),) and unit.symmetry_factor == 1
    quarter = make_layout("quarter_cell", DENSITY)
    assert quarter.extent == pytest.approx((0.0, PITCH / 2, 0.0, PITCH / 2))
    assert quarter.centres == ((0.0, 0.0),) and quarter.mirror == ("x", "y")
    assert quarter.symmetry_factor * quarter.area == pytest.approx(unit.area)


def test_single_defaults_to_one_pitch_and_takes_a_patch():
    assert make_layout("single", DENSITY).extent == make_layout("unit_cell", DENSITY).extent
    big = make_layout("single", DENSITY, patch=3e-3)
    assert big.extent == pytest.approx((-1.5e-3, 1.5e-3, -1.5e-3, 1.5e-3))
    assert big.centres == ((0.0, 0.0),)


@pytest.mark.parametrize("n", [1, 3, 5])
def test_grid_fills_the_patch_at_the_density(n):
    lay = make_layout("grid", DENSITY, patch=n * PITCH)
    assert lay.count == n * n
    assert lay.count / lay.area == pytest.approx(DENSITY)
    if n > 1:
        assert nearest_neighbour_distances(lay) == pytest.approx(np.full(n * n, PITCH))
    c = np.array(lay.centres)
    assert c.mean(axis=0) == pytest.approx([0.0, 0.0], abs=1e-12)  # centred in the patch
    assert np.abs(c).max() == pytest.approx((n - 1) / 2 * PITCH)


def test_hex_lattice_spacing_and_density():
    a = hex_pitch(DENSITY)
    assert a**2 * math.sqrt(3) / 2 == pytest.approx(1 / DENSITY)  # area per column
    lay = make_layout("hex", DENSITY, patch=12 * PITCH, margin=100e-6)
    d = nearest_neighbour_distances(lay)
    assert d == pytest.approx(np.full(lay.count, a), rel=1e-9)
    # Six neighbours at distance a for an interior column.
    c = np.array(lay.centres)
    inner = np.argmin((c**2).sum(axis=1))
    dist = np.sqrt(((c - c[inner]) ** 2).sum(axis=1))
    assert np.sum(np.isclose(dist, a)) == 6
    # The density over the patch (columns inside the margin) is the hex density within 15 %.
    assert lay.count / lay.area == pytest.approx(DENSITY, rel=0.15)
    x0, x1, _, _ = lay.extent
    assert np.abs(c).max() <= x1 - 100e-6 + 1e-12


def test_random_is_reproducible_and_passes_add_up():
    one = make_layout("random", DENSITY, patch=5e-3, margin=100e-6, seed=7)
    again = make_layout("random", DENSITY, patch=5e-3, margin=100e-6, seed=7)
    other = make_layout("random", DENSITY, patch=5e-3, margin=100e-6, seed=8)
    assert one.centres == again.centres and one.centres != other.centres
    assert one.count == round(DENSITY * 25e-6)  # 100 columns in 5 mm x 5 mm
    three = make_layout("random", DENSITY, patch=5e-3, margin=100e-6, seed=7, passes=3)
    assert three.count == 3 * one.count
    c = np.array(three.centres)
    assert np.abs(c).max() <= 2.5e-3 - 100e-6
    # Independent uniform passes overlap: some columns land closer than a pitch / 4.
    assert nearest_neighbour_distances(three).min() < PITCH / 4
