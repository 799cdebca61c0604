"""Toy data: shapes, dtypes, determinism, geometry and splits."""

import numpy as np
import pytest

from coursekit import toydata as T

CLASSIFIERS = [
    (T.make_xor, {}),
    (T.make_moons, {}),
    (T.make_circles, {}),
    (T.make_spirals, {"n_classes": 4}),
]


@pytest.mark.parametrize("make, kw", CLASSIFIERS)
@pytest.mark.parametrize("n", [1, 7, 101])
def test_shapes_dtypes_and_balance(make, kw, n):
    X, y = make(n=n, **kw)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    n_classes = kw.get("n_classes", 2)
    assert y.min() >= 0 and y.max() < n_classes
    counts = np.bincount(y, minlength=n_classes)
    assert counts.max() - counts.min() <= 1


@pytest.mark.parametrize("make, kw", CLASSIFIERS)
def test_deterministic_by_seed_and_no_global_state(make, kw):
    # The legacy global RNG is used on purpose: the generators must neither read nor advance it.
    saved = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(0)  # noqa: NPY002
        X1, y1 = make(seed=3, **kw)
        np.random.seed(1)  # noqa: NPY002
        before = np.random.get_state()[1].copy()  # noqa: NPY002
        X2, y2 = make(seed=3, **kw)
        np.testing.assert_array_equal(np.random.get_state()[1], before)  # noqa: NPY002
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(seed=4, **kw)
    assert not np.array_equal(X1, X3)


def test_classes_are_shuffled():
    _, y = T.make_moons(200)
    assert 0 < y[:100].mean() < 1 and np.abs(np.diff(y)).sum() > 20


def test_xor_labels_follow_sign_rule():
    X, y = T.make_xor(400, noise=0.1)
    np.testing.assert_array_equal(y, (X[:, 0] * X[:, 1] < 0).astype(int))
    # Not linearly separable: the class means coincide at the origin.
    np.testing.assert_allclose(X[y == 0].mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(X[y == 1].mean(0), 0.0, atol=0.05)


def test_noise_free_geometry():
    X, y = T.make_circles(100, noise=0.0, factor=0.3)
    r = np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)
    X, y = T.make_moons(100, noise=0.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 0], axis=1), 1.0)
    np.testing.assert_allclose(np.linalg.norm(X[y == 1] - [1.0, 0.5], axis=1), 1.0)
    X, y = T.make_spirals(90, n_classes=3, noise=0.0)
    assert np.linalg.norm(X, axis=1).max() == pytest.approx(1.0)
    assert set(np.unique(y)) == {0, 1, 2}


def test_regression_1d():
    x, y = T.make_regression_1d(50, noise=0.0, fn="sin")
    assert x.shape == (50, 1) and y.shape == (50, 1)
    assert np.all(np.diff(x[:, 0]) >= 0) and np.abs(x).max() <= 1
    np.testing.assert_allclose(y, np.sin(np.pi * x))
    x, y = T.make_regression_1d(30, noise=0.0, fn=np.cos, seed=2)
    np.testing.assert_allclose(y, np.cos(x))
    _, y_noisy = T.make_regression_1d(2000, noise=0.5, fn="abs")
    x, y_clean = T.make_regression_1d(2000, noise=0.0, fn="abs")
    assert np.std(y_noisy - np.abs(x)) == pytest.approx(0.5, rel=0.05)
    np.testing.assert_allclose(y_clean, np.abs(x))


def test_split_sizes_stratification_and_disjointness():
    X, y = T.make_spirals(300, n_classes=3)
    X = np.column_stack([X, np.arange(300)])  # tag rows to check disjointness
    parts = T.train_val_test_split(X, y, val_fraction=0.2, test_fraction=0.1, seed=1)
    sizes = {k: len(v[1]) for k, v in parts.items()}
    assert sizes == {"train": 210, "val": 60, "test": 30}
    ids = np.concatenate([parts[k][0][:, 2] for k in parts])
    assert sorted(ids) == list(range(300))
    for k, (Xk, yk) in parts.items():
        np.testing.assert_array_equal(y[Xk[:, 2].astype(int)], yk)
        np.testing.assert_array_equal(np.bincount(yk, minlength=3), [sizes[k] // 3] * 3)


def test_split_uneven_classes_and_regression_targets():
    y = np.array([0] * 90 + [1] * 10)
    parts = T.train_val_test_split(np.zeros((100, 2)), y, val_fraction=0.2, test_fraction=0.2)
    assert [len(parts[k][1]) for k in ("train", "val", "test")] == [60, 20, 20]
    assert parts["test"][1].sum() == 2 and parts["val"][1].sum() == 2
    x, t = T.make_regression_1d(40)
    parts = T.train_val_test_split(x, t, val_fraction=0.25, test_fraction=0.0)
    assert [len(parts[k][0]) for k in ("train", "val", "test")] == [30, 10, 0]
    a = T.train_val_test_split(x, t, seed=5)
    b = T.train_val_test_split(x, t, seed=5)
    np.testing.assert_array_equal(a["val"][0], b["val"][0])


def test_errors():
    with pytest.raises(ValueError, match="n must be an integer >= 1, got 0"):
        T.make_moons(n=0)
    with pytest.raises(ValueError, match=r"factor must lie in \(0, 1\), got 1.5"):
        T.make_circles(factor=1.5)
    with pytest.raises(ValueError, match="n_classes must be an integer >= 2, got 1"):
        T.make_spirals(n_classes=1)
    with pytest.raises(ValueError, match="noise must be a finite number >= 0, got -0.1"):
        T.make_xor(noise=-0.1)
    with pytest.raises(ValueError, match=r"fn must be one of \['sin', 'cubic', 'abs', 'step'\]"):
        T.make_regression_1d(fn="tan")
    with pytest.raises(ValueError, match="val_fraction \\+ test_fraction must be < 1"):
        T.train_val_test_split(np.zeros((10, 2)), np.zeros(10, int), 0.5, 0.5)
    with pytest.raises(ValueError, match="X and y must have the same batch size, got 10 and 9"):
        T.train_val_test_split(np.zeros((10, 2)), np.zeros(9, int))
    with pytest.raises(TypeError, match="seed must be an integer >= 0, got 1.5"):
        T.make_xor(seed=1.5)
