"""Oriented-box geometry checks against an independent polygon-clipping reference."""

import numpy as np

from sim.collision import box_corners, obb_overlap, points_in_box


def _clip(subject, a, b):
    """Sutherland-Hodgman: keep the part of polygon `subject` left of edge a->b."""
    def side(p):
        return (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0])

    out = []
    for i, cur in enumerate(subject):
        prev = subject[i - 1]
        sc, sp = side(cur), side(prev)
        if sc >= 0:
            if sp < 0:
                out.append(prev + (cur - prev) * sp / (sp - sc))
            out.append(cur)
        elif sp >= 0:
            out.append(prev + (cur - prev) * sp / (sp - sc))
    return out


def _intersection_area(poly_a, poly_b):
    poly = list(poly_a)
    for i in range(len(poly_b)):
        if not poly:
            return 0.0
        poly = _clip(poly, poly_b[i], poly_b[(i + 1) % len(poly_b)])
    if len(poly) < 3:
        return 0.0
    p = np.array(poly)
    return 0.5 * abs(np.dot(p[:, 0], np.roll(p[:, 1], -1)) - np.dot(p[:, 1], np.roll(p[:, 0], -1)))


def _random_boxes(rng, n):
    return np.column_stack(
        [
            rng.uniform(-5, 5, n),
            rng.uniform(-5, 5, n),
            rng.uniform(-np.pi, np.pi, n),
            rng.uniform(0.5, 6.0, n),
            rng.uniform(0.3, 3.0, n),
        ]
    )


def test_corners_order_and_position():
    c = box_corners(np.array([1.0, 2.0, 0.0, 4.0, 2.0]))
    np.testing.assert_allclose(c, [[3, 3], [-1, 3], [-1, 1], [3, 1]])
    c = box_corners(np.array([0.0, 0.0, np.pi / 2, 4.0, 2.0]))  # nose points north
    np.testing.assert_allclose(c, [[-1, 2], [-1, -2], [1, -2], [1, 2]], atol=1e-12)


def test_corners_counter_clockwise_batched():
    boxes = _random_boxes(np.random.default_rng(1), 50).reshape(5, 10, 5)
    c = box_corners(boxes)
    assert c.shape == (5, 10, 4, 2)
    x, y = c[..., 0], c[..., 1]
    area = 0.5 * np.sum(x * np.roll(y, -1, axis=-1) - y * np.roll(x, -1, axis=-1), axis=-1)
    np.testing.assert_allclose(area, boxes[..., 3] * boxes[..., 4])  # positive = CCW


def test_overlap_matches_polygon_clipping_reference():
    rng = np.random.default_rng(12345)
    n = 400
    a = _random_boxes(rng, n)
    b = _random_boxes(rng, n)
    ca, cb = box_corners(a), box_corners(b)
    ref = np.array([_intersection_area(ca[i], cb[i]) > 1e-9 for i in range(n)])
    got = np.array([obb_overlap(a[i], b[i : i + 1])[0] for i in range(n)])
    np.testing.assert_array_equal(got, ref)
    assert 0.2 < ref.mean() < 0.8  # both outcomes exercised
    # One box against all N at once gives the same answers as row by row.
    ref0 = np.array([_intersection_area(ca[0], cb[i]) > 1e-9 for i in range(n)])
    np.testing.assert_array_equal(obb_overlap(a[0], b), ref0)
    # All pairs by broadcasting.
    pairs = obb_overlap(a[:20, None], b[None, :30])
    assert pairs.shape == (20, 30)
    np.testing.assert_array_equal(pairs[0], obb_overlap(a[0], b[:30]))


def test_aabbs_overlap_but_obbs_separated_on_diagonal_axis():
    box = np.array([0.0, 0.0, np.pi / 4, 2.0, 2.0])
    other = np.array([[1.6, 1.6, np.pi / 4, 2.0, 2.0]])
    ca, cb = box_corners(box), box_corners(other[0])
    # Axis-aligned bounding boxes intersect in x and y ...
    assert ca[:, 0].max() > cb[:, 0].min() and ca[:, 1].max() > cb[:, 1].min()
    # ... but the oriented boxes are separated along (1, 1)/sqrt(2).
    assert not obb_overlap(box, other)[0]
    other[0, :2] = 1.3  # now they interpenetrate
    assert obb_overlap(box, other)[0]


def test_thin_rotated_box_near_corner():
    square = np.array([0.0, 0.0, 0.0, 2.0, 2.0])
    # Long thin bar at 45 deg passing just outside the (1, 1) corner.
    bar = np.array([[1.6, 1.6, -np.pi / 4, 6.0, 0.2]])
    assert not obb_overlap(square, bar)[0]
    bar[0, :2] = 1.0
    assert obb_overlap(square, bar)[0]


def test_identical_and_contained_boxes():
    box = np.array([3.0, -1.0, 0.7, 4.5, 1.8])
    inner = np.array([[3.1, -0.9, 1.9, 0.5, 0.3]])
    assert obb_overlap(box, box[None])[0]
    assert obb_overlap(box, inner)[0]
    assert obb_overlap(inner[0], box[None])[0]
    assert points_in_box(box_corners(inner[0]), box).all()


def test_empty_input():
    out = obb_overlap(np.array([0.0, 0.0, 0.0, 1.0, 1.0]), np.zeros((0, 5)))
    assert out.shape == (0,) and out.dtype == bool
    assert points_in_box(np.zeros((0, 2)), np.array([0.0, 0.0, 0.0, 1.0, 1.0])).shape == (0,)


def test_points_in_box():
    box = np.array([1.0, 1.0, np.pi / 2, 4.0, 2.0])  # spans x in [0, 2], y in [-1, 3]
    pts = np.array([[1.0, 1.0], [1.9, 2.9], [2.1, 1.0], [1.0, 3.1], [0.0, -1.0]])
    np.testing.assert_array_equal(points_in_box(pts, box), [True, True, False, False, True])


def test_points_in_box_matches_overlap_of_tiny_boxes():
    rng = np.random.default_rng(7)
    box = np.array([0.5, -0.5, 0.4, 5.0, 2.0])
    pts = rng.uniform(-4, 4, (500, 2))
    tiny = np.column_stack([pts, np.zeros(500), np.full(500, 1e-12), np.full(500, 1e-12)])
    np.testing.assert_array_equal(points_in_box(pts, box), obb_overlap(box, tiny))
