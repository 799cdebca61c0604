"""coursekit.solver: the NumPy training loop learns toy problems, reproducibly."""

import numpy as np
import pytest

from coursekit.layers import MLP, Dropout, Linear, ReLU, Sequential
from coursekit.optimizers import SGD, Adam
from coursekit.solver import accuracy, predict, train_numpy
from coursekit.toydata import make_moons, make_spirals


def test_mlp_learns_two_moons():
    X, y = make_moons(600, noise=0.1, seed=0)
    X_val, y_val = make_moons(300, noise=0.1, seed=1)
    model = MLP([2, 32, 32, 2], rng=0)
    hist = train_numpy(
        model,
        X,
        y,
        Adam(model.parameters(), lr=0.01),
        epochs=30,
        batch_size=32,
        X_val=X_val,
        y_val=y_val,
        progress=False,
    )
    assert set(hist) == {"train_loss", "train_acc", "val_loss", "val_acc"}
    assert all(len(v) == 30 for v in hist.values())
    assert hist["val_acc"][-1] >= 0.95
    assert accuracy(predict(model, X_val), y_val) == pytest.approx(hist["val_acc"][-1])
    assert hist["train_loss"][-1] < 0.5 * hist["train_loss"][0]


def test_mlp_learns_spirals_with_sgd_momentum():
    X, y = make_spirals(n=300, seed=0)
    model = MLP([2, 64, 64, int(y.max()) + 1], rng=1)
    hist = train_numpy(
        model,
        X,
        y,
        SGD(model.parameters(), lr=0.1, momentum=0.9),
        epochs=60,
        batch_size=32,
        progress=False,
    )
    assert accuracy(predict(model, X), y) >= 0.9
    assert hist["val_loss"] == [] and hist["val_acc"] == []


def test_training_is_reproducible_and_seed_matters():
    X, y = make_moons(200, seed=2)

    def run(seed):
        model = MLP([2, 8, 2], rng=0)
        train_numpy(
            model, X, y, SGD(model.parameters(), lr=0.1), epochs=2, seed=seed, progress=False
        )
        return model[0].params["w"].copy()

    np.testing.assert_array_equal(run(0), run(0))
    assert not np.array_equal(run(0), run(1))


def test_predict_uses_eval_mode_and_restores_it():
    model = Sequential(Linear(3, 50, rng=0), ReLU(), Dropout(0.5, rng=0), Linear(50, 2, rng=1))
    X = np.random.default_rng(3).standard_normal((10, 3))
    a, b = predict(model, X, batch_size=3), predict(model, X)
    np.testing.assert_allclose(a, b)  # no dropout noise, batching does not matter
    assert model.training
    model.eval()
    predict(model, X)
    assert not model.training


def test_mse_loss_and_verbose_output(capsys):
    rng = np.random.default_rng(4)
    X = rng.uniform(-1, 1, (128, 1))
    y = 3 * X[:, 0] - 1
    model = Sequential(Linear(1, 1, rng=0))
    hist = train_numpy(
        model,
        X,
        y,
        SGD(model.parameters(), lr=0.1),
        epochs=40,
        loss="mse",
        progress=False,
        verbose=True,
        batch_size=16,
    )
    assert hist["train_loss"][-1] < 1e-4
    np.testing.assert_allclose(model[0].params["w"], [[3.0]], atol=1e-2)
    assert np.isnan(hist["train_acc"][-1])
    assert "epoch 40/40: train_loss" in capsys.readouterr().out


def test_accuracy():
    assert accuracy(np.array([0, 1, 2, 1]), np.array([0, 1, 1, 1])) == 0.75
    logits = np.array([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, np.array([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="must have the same batch size, got 3 and 2"):
        accuracy(logits, np.array([0, 1]))


def test_solver_errors():
    X, y = np.zeros((4, 2)), np.zeros(4, dtype=int)
    model = MLP([2, 2], rng=0)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(
        ValueError, match="X_train and y_train must have the same batch size, got 4 and 3"
    ):
        train_numpy(model, X, y[:3], opt, progress=False)
    with pytest.raises(TypeError, match="model must be a coursekit Layer"):
        train_numpy(lambda x: x, X, y, opt, progress=False)
    with pytest.raises(TypeError, match="optimizer must have zero_grad"):
        train_numpy(model, X, y, object(), progress=False)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_numpy(model, X, y, opt, loss="hinge", progress=False)
    with pytest.raises(ValueError, match="X_val and y_val must be given together"):
        train_numpy(model, X, y, opt, X_val=X, progress=False)
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got 0"):
        train_numpy(model, X, y, opt, batch_size=0, progress=False)
