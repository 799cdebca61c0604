"""Tests for coursekit.augment: batched tensor augmentation and torchvision pipelines."""

import functools
import math

import pytest
import torch
import torch.nn.functional as F

from coursekit.augment import (
    AugmentedLoader,
    BatchAugment,
    color_jitter,
    gaussian_noise,
    random_crop,
    random_flip,
    random_rotation,
    train_transforms,
)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def batch() -> torch.Tensor:
    return torch.rand(6, 3, 9, 7, generator=_gen(1))


ALL_OPS = [
    lambda x, g: random_flip(x, 0.5, generator=g),
    lambda x, g: random_crop(x, 2, generator=g),
    lambda x, g: random_crop(x, 2, mode="zero", generator=g),
    lambda x, g: random_rotation(x, 20, generator=g),
    lambda x, g: color_jitter(x, 0.3, 0.3, 0.3, generator=g),
    lambda x, g: gaussian_noise(x, 0.1, generator=g),
    lambda x, g: BatchAugment(rotation=10, jitter=0.2, noise=0.05, crop_padding=2)(x, g),
]


@pytest.mark.parametrize("op", ALL_OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_shape_dtype_device_preserved(op, dtype, batch):
    x = batch.to(dtype)
    out = op(x, _gen(3))
    assert out.shape == x.shape
    assert out.dtype == dtype
    assert out.device == x.device


@pytest.mark.parametrize("op", ALL_OPS)
def test_deterministic_with_seeded_generator(op, batch):
    a = op(batch, _gen(7))
    b = op(batch, _gen(7))
    c = op(batch, _gen(8))
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_flip_p1_is_torch_flip_and_p0_is_identity(batch):
    torch.testing.assert_close(random_flip(batch, p=1.0), torch.flip(batch, dims=[3]))
    torch.testing.assert_close(random_flip(batch, p=0.0), batch)


def test_flip_flips_each_sample_whole_or_not_at_all():
    x = torch.rand(200, 2, 4, 5, generator=_gen(2))
    out = random_flip(x, 0.5, generator=_gen(4))
    flipped = torch.tensor([torch.equal(o, xi.flip(-1)) for o, xi in zip(out, x, strict=True)])
    kept = torch.tensor([torch.equal(o, xi) for o, xi in zip(out, x, strict=True)])
    assert torch.all(flipped ^ kept)
    # 200 fair coin flips: 100 +- 5 sigma (sigma ~ 7)
    assert 65 < int(flipped.sum()) < 135


def test_crop_padding_zero_is_identity(batch):
    torch.testing.assert_close(random_crop(batch, padding=0, generator=_gen()), batch)


@pytest.mark.parametrize("mode", ["reflect", "zero"])
def test_crop_is_a_shifted_window_of_the_padded_input(mode, batch):
    p = 3
    out = random_crop(batch, padding=p, mode=mode, generator=_gen(5))
    torch_mode = "reflect" if mode == "reflect" else "constant"
    padded = F.pad(batch, (p, p, p, p), mode=torch_mode)
    h, w = batch.shape[-2:]
    offsets = []
    for n in range(len(batch)):
        matches = [
            (dy, dx)
            for dy in range(2 * p + 1)
            for dx in range(2 * p + 1)
            if torch.equal(out[n], padded[n, :, dy : dy + h, dx : dx + w])
        ]
        assert matches, f"sample {n} is not a window of the padded image"
        offsets.append(matches[0])
    # Per-sample offsets: a batch of 6 should not all share one shift.
    assert len(set(offsets)) > 1


def test_crop_offsets_cover_the_full_range():
    x = torch.arange(5 * 5, dtype=torch.float32).view(1, 1, 5, 5).repeat(400, 1, 1, 1)
    out = random_crop(x, padding=2, mode="zero", generator=_gen(0))
    padded = F.pad(x[:1], (2, 2, 2, 2))
    seen = set()
    for o in out[:, 0]:
        for dy in range(5):
            for dx in range(5):
                if torch.equal(o, padded[0, 0, dy : dy + 5, dx : dx + 5]):
                    seen.add((dy, dx))
    assert seen == {(dy, dx) for dy in range(5) for dx in range(5)}


def test_crop_reflect_padding_too_large_raises(batch):
    with pytest.raises(ValueError, match="padding must be smaller than the image size 9x7"):
        random_crop(batch, padding=7)


def test_rotation_zero_is_identity(batch):
    torch.testing.assert_close(random_rotation(batch, 0.0), batch, rtol=1e-5, atol=1e-5)


def test_rotation_by_max_angle_90_is_a_quarter_turn(monkeypatch):
    # Force every draw to the top of the range so the angle is exactly +90
    # degrees; bilinear sampling at grid points is then exact.
    import coursekit.augment as aug

    monkeypatch.setattr(aug, "_uniform", lambda n, low, high, x, g: torch.full((n,), float(high)))
    x = torch.rand(2, 1, 5, 5, generator=_gen(9), dtype=torch.float64)
    out = random_rotation(x, 90.0)
    # Which way is "positive" depends on the (x right, y down) frame: either quarter turn.
    cands = [torch.rot90(x, k, dims=(2, 3)) for k in (1, -1)]
    assert any(torch.allclose(out, c, atol=1e-9) for c in cands)
    # A non-square image: the aspect correction keeps it a rotation (the centre
    # row of a 5x9 image lands on the centre column).
    y = torch.rand(1, 1, 5, 9, generator=_gen(10), dtype=torch.float64)
    out_y = random_rotation(y, 90.0)
    assert any(
        torch.allclose(out_y[0, 0, :, 4], c, atol=1e-9)
        for c in (y[0, 0, 2, 2:7], y[0, 0, 2, 2:7].flip(0))
    )


def test_rotation_keeps_centre_pixel_and_zero_fills_corners():
    x = torch.ones(32, 1, 9, 9)
    out = random_rotation(x, 45.0, generator=_gen(1))
    torch.testing.assert_close(out[:, 0, 4, 4], torch.ones(32))
    # Some sample rotated by more than ~10 degrees has a corner from outside.
    assert float(out[:, 0, 0, 0].min()) < 0.5


def test_jitter_zero_strength_is_identity(batch):
    torch.testing.assert_close(color_jitter(batch, 0.0, 0.0, 0.0), batch)


def test_brightness_scales_each_image_by_one_factor_in_range():
    x = torch.rand(64, 3, 4, 4, generator=_gen(1), dtype=torch.float64) + 0.1
    out = color_jitter(x, brightness=0.4, contrast=0.0, saturation=0.0, generator=_gen(2))
    ratio = out / x  # (N, C, H, W): constant within each image
    per_image = ratio.flatten(1)
    torch.testing.assert_close(per_image, per_image[:, :1].expand_as(per_image))
    assert float(per_image.min()) >= 0.6 - 1e-12 and float(per_image.max()) <= 1.4 + 1e-12
    assert float(per_image[:, 0].std()) > 0.1  # uniform on [0.6, 1.4]: std ~ 0.23


def test_contrast_keeps_mean_grey_level_and_saturation_keeps_luma():
    x = torch.rand(32, 3, 5, 5, generator=_gen(3), dtype=torch.float64)
    w = torch.tensor([0.299, 0.587, 0.114], dtype=torch.float64).view(1, 3, 1, 1)
    luma = lambda t: (t * w).sum(1)
    out_c = color_jitter(x, 0.0, 0.5, 0.0, generator=_gen(4))
    torch.testing.assert_close(luma(out_c).mean((1, 2)), luma(x).mean((1, 2)))
    assert not torch.allclose(out_c, x)
    out_s = color_jitter(x, 0.0, 0.0, 0.5, generator=_gen(5))
    torch.testing.assert_close(luma(out_s), luma(x))
    assert not torch.allclose(out_s, x)


def test_saturation_does_nothing_to_grey_images():
    x = torch.rand(4, 1, 5, 5, generator=_gen(3))
    torch.testing.assert_close(color_jitter(x, 0.0, 0.0, 0.5, generator=_gen(1)), x)


def test_noise_statistics():
    x = torch.zeros(64, 3, 16, 16, dtype=torch.float64)
    out = gaussian_noise(x, std=0.2, generator=_gen(6))
    assert abs(float(out.mean())) < 0.01  # sigma of mean = 0.2 / sqrt(49152) ~ 0.001
    assert float(out.std()) == pytest.approx(0.2, rel=0.02)
    torch.testing.assert_close(gaussian_noise(x, std=0.0), x)


def test_batch_augment_composition_matches_calls_in_order(batch):
    aug = BatchAugment(flip=True, crop_padding=2, rotation=5, jitter=0.1, noise=0.01)
    out = aug(batch, _gen(11))
    g = _gen(11)
    ref = random_crop(batch, 2, "reflect", generator=g)
    ref = random_flip(ref, 0.5, generator=g)
    ref = random_rotation(ref, 5, generator=g)
    ref = color_jitter(ref, 0.1, 0.1, 0.1, generator=g)
    ref = gaussian_noise(ref, 0.01, generator=g)
    torch.testing.assert_close(out, ref, rtol=0, atol=0)
    off = BatchAugment(flip=False, crop_padding=0)
    torch.testing.assert_close(off(batch), batch)
    assert "crop_padding=2" in repr(aug)


def test_a_full_batch_with_every_augmentation_keeps_shape_and_dtype():
    x = torch.rand(256, 3, 32, 32, generator=_gen(0))
    aug = BatchAugment(flip=True, crop_padding=4, rotation=10, jitter=0.2, noise=0.05)
    out = aug(x, _gen(1))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert not torch.equal(out, x)


def test_errors_name_the_argument(batch):
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        random_flip(batch.numpy())
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), got 3-D"):
        random_flip(batch[0])
    with pytest.raises(TypeError, match="x must be a floating-point tensor"):
        random_crop((batch * 255).to(torch.uint8))
    with pytest.raises(ValueError, match=r"p must lie in \[0, 1\], got 1.5"):
        random_flip(batch, p=1.5)
    with pytest.raises(ValueError, match="mode must be one of"):
        random_crop(batch, 2, mode="edge")
    with pytest.raises(TypeError, match="padding must be an integer >= 0"):
        random_crop(batch, 2.5)
    with pytest.raises(ValueError, match="max_degrees must be a finite number >= 0"):
        random_rotation(batch, -3)
    with pytest.raises(ValueError, match="x must have 1 or 3 channels"):
        color_jitter(torch.rand(2, 4, 3, 3))
    with pytest.raises(ValueError, match="std must be a finite number >= 0"):
        gaussian_noise(batch, -0.1)
    with pytest.raises(TypeError, match="generator must be a torch.Generator"):
        random_flip(batch, generator=0)
    with pytest.raises(TypeError, match="flip must be a bool"):
        BatchAugment(flip=1)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_generator_on_another_device_is_rejected(batch):
    with pytest.raises(ValueError, match="generator must live on the same device as x"):
        random_flip(batch.cuda(), generator=_gen())


# --------------------------------------------------------------------------- #
# AugmentedLoader
# --------------------------------------------------------------------------- #
def _batches(n_batches: int = 3, n: int = 4) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """A list of (x, y) batches: x (n, 3, 6, 5) float32, y (n,) int64."""
    g = _gen(21)
    return [
        (torch.rand(n, 3, 6, 5, generator=g), torch.arange(n) + 10 * b) for b in range(n_batches)
    ]


def test_augmented_loader_applies_augment_with_one_seeded_generator():
    batches = _batches()
    aug = BatchAugment(flip=True, crop_padding=2, noise=0.05)
    out = list(AugmentedLoader(batches, aug, seed=5))
    assert len(out) == len(batches)
    # the same stream as calling aug batch by batch with one generator seeded 5
    g = _gen(5)
    for (xa, ya), (x, y) in zip(out, batches, strict=True):
        assert xa.shape == x.shape and xa.dtype == x.dtype
        torch.testing.assert_close(xa, aug(x, g), rtol=0, atol=0)
        assert ya is y  # labels pass through untouched


def test_augmented_loader_new_draws_every_epoch_but_reproducible():
    batches = _batches()
    aug = BatchAugment(flip=True, crop_padding=2, noise=0.05)
    loader = AugmentedLoader(batches, aug, seed=0)
    epoch1 = [x for x, _ in loader]
    epoch2 = [x for x, _ in loader]
    assert not torch.equal(epoch1[0], epoch2[0])  # the generator keeps running
    again = AugmentedLoader(batches, aug, seed=0)
    for a, b in zip(epoch1 + epoch2, [x for x, _ in again] + [x for x, _ in again], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    other = [x for x, _ in AugmentedLoader(batches, aug, seed=1)]
    assert not torch.equal(epoch1[0], other[0])


def test_augmented_loader_len_and_dataloader():
    ds = torch.utils.data.TensorDataset(torch.rand(10, 1, 4, 4), torch.arange(10))
    dl = torch.utils.data.DataLoader(ds, batch_size=4)
    loader = AugmentedLoader(dl, functools.partial(random_flip, p=1.0))
    assert len(loader) == len(dl) == 3
    xs = [x for x, _ in loader]
    assert [x.shape[0] for x in xs] == [4, 4, 2]
    torch.testing.assert_close(torch.cat(xs), ds.tensors[0].flip(-1))
    assert "seed=0" in repr(loader) and "DataLoader" in repr(loader)


def test_augmented_loader_errors():
    aug = BatchAugment()
    with pytest.raises(TypeError, match=r"loader must be an iterable of \(x, y\) batches"):
        AugmentedLoader(3, aug)
    with pytest.raises(TypeError, match="augment must be callable"):
        AugmentedLoader(_batches(), "flip")
    with pytest.raises(ValueError, match="seed must be an integer >= 0, got -1"):
        AugmentedLoader(_batches(), aug, seed=-1)
    with pytest.raises(TypeError, match="loader has no length"):
        len(AugmentedLoader(iter(_batches()), aug))
    with pytest.raises(ValueError, match=r"loader must yield \(x, y\) pairs, got 3 items"):
        next(iter(AugmentedLoader([(1, 2, 3)], aug)))
    with pytest.raises(TypeError, match=r"loader must yield \(x, y\) pairs, got a Tensor"):
        next(iter(AugmentedLoader([torch.rand(2, 1, 3, 3)], aug)))
    with pytest.raises(ValueError, match=r"x \(the images of batch 0\) must be 4-D"):
        next(iter(AugmentedLoader([(torch.rand(2, 3, 3), torch.zeros(2))], aug)))


# --------------------------------------------------------------------------- #
# torchvision pipelines
# --------------------------------------------------------------------------- #
RGB_MEAN, RGB_STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


def test_eval_pipeline_is_scale_and_normalise():
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=_gen(0))
    stats = ((0.49, 0.48, 0.45), (0.25, 0.24, 0.26))
    t = train_transforms("cifar10", *stats, augment=False)
    out = t(img)
    mean, std = (torch.tensor(s).view(3, 1, 1) for s in stats)
    torch.testing.assert_close(out, (img.float() / 255 - mean) / std)
    assert out.dtype == torch.float32


def test_cifar_train_pipeline_contents_and_shape():
    t = train_transforms("cifar10", RGB_MEAN, RGB_STD, jitter=0.2, rotation=5)
    names = [type(s).__name__ for s in t.transforms]
    assert names == [
        "ToImage",
        "RandomCrop",
        "RandomHorizontalFlip",
        "RandomRotation",
        "ColorJitter",
        "ToDtype",
        "Normalize",
    ]
    img = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=_gen(1))
    out = t(img)
    assert out.shape == (3, 32, 32) and out.dtype == torch.float32


def test_digits_pipeline_never_flips_and_handles_one_channel():
    t = train_transforms("digits", (0.13,), (0.31,), jitter=0.3)
    names = [type(s).__name__ for s in t.transforms]
    assert "RandomHorizontalFlip" not in names
    assert "RandomRotation" in names
    img = torch.randint(0, 256, (1, 28, 28), dtype=torch.uint8, generator=_gen(2))
    assert t(img).shape == (1, 28, 28)
    # The crop is a padded translation: size is kept for a smaller image too.
    t8 = train_transforms("digits", (0.13,), (0.31,), size=8, padding=1, rotation=0)
    assert t8(img[:, :8, :8]).shape == (1, 8, 8)


def test_pipeline_errors():
    with pytest.raises(ValueError, match="dataset must be one of"):
        train_transforms("imagenet", RGB_MEAN, RGB_STD)
    with pytest.raises(ValueError, match="mean and std must have one value per channel"):
        train_transforms("cifar10", mean=(0.5,), std=(0.2, 0.2, 0.2))
    with pytest.raises(ValueError, match=r"std\[0\] must be a finite number > 0"):
        train_transforms("digits", mean=(0.5,), std=(0.0,))


def test_rotation_angle_range_is_respected():
    # Rotating a single bright pixel at radius r moves it along a circle; the
    # largest angle seen must stay within max_degrees.
    n, size, r = 200, 21, 8
    x = torch.zeros(n, 1, size, size, dtype=torch.float64)
    x[:, 0, 10, 10 + r] = 1.0
    out = random_rotation(x, 30.0, generator=_gen(3))
    ys, xs = torch.meshgrid(
        torch.arange(size, dtype=torch.float64),
        torch.arange(size, dtype=torch.float64),
        indexing="ij",
    )
    mass = out[:, 0].sum((1, 2))
    cy = (out[:, 0] * ys).sum((1, 2)) / mass - 10
    cx = (out[:, 0] * xs).sum((1, 2)) / mass - 10
    angles = torch.rad2deg(torch.atan2(cy, cx)).abs()
    assert float(angles.max()) <= 30 + 3  # bilinear blur moves the centroid a little
    assert float(angles.max()) > 20
    assert math.isfinite(float(angles.mean()))
