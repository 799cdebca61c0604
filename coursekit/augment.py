"""Data augmentation: batched tensor ops for the GPU and torchvision pipelines.

Two flavours of the same ideas (notebooks 05, 07 and 09):

* **Batched tensor augmentation** (``random_flip``, ``random_crop``,
  ``random_rotation``, ``color_jitter``, ``gaussian_noise``, ``BatchAugment``)
  acts on a whole batch ``(N, C, H, W)`` at once on whatever device it lives on.
  Each sample draws its own random parameters, but there is no Python loop over
  samples: the randomness is a tensor of shape ``(N,)`` and the work is one
  vectorised op. This is what keeps a GPU busy when the data set already lives
  on it (see ``coursekit.fast.GpuLoader``).
* ``AugmentedLoader`` puts a batched augmentation in front of any loader of
  ``(x, y)`` batches, such as a ``DataLoader``, for the training set only.
* **Per-sample torchvision pipelines** (``train_transforms``) for the classic
  ``Dataset`` + ``DataLoader`` route, where each image is augmented on the CPU
  by worker processes.

Every random function takes ``generator``: a ``torch.Generator`` on the same
device as the images makes the result reproducible.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
import torch.nn.functional as F
from torchvision.transforms import v2

from coursekit._validate import (
    check_bool,
    check_finite,
    check_in,
    check_nonneg_int,
    check_positive,
    check_probability,
    check_seed,
)

__all__ = [
    "random_flip",
    "random_crop",
    "random_rotation",
    "color_jitter",
    "gaussian_noise",
    "BatchAugment",
    "AugmentedLoader",
    "train_transforms",
]

# ITU-R 601 luma weights, as in coursekit.datasets (torchvision's rgb_to_grayscale
# rounds red to 0.2989, so calling it would shift the numbers slightly).
_LUMA = (0.299, 0.587, 0.114)


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _check_images(x: object, name: str = "x") -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name} must be a torch.Tensor of shape (N, C, H, W), got {type(x).__name__}"
        )
    if x.ndim != 4:
        raise ValueError(
            f"{name} must be 4-D (N, C, H, W), got {x.ndim}-D with shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(
            f"{name} must be a floating-point tensor (convert uint8 images with "
            f"x.float() / 255), got dtype {x.dtype}"
        )
    return x


def _check_generator(generator: torch.Generator | None, x: torch.Tensor) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(
            f"generator must be a torch.Generator or None, got {type(generator).__name__}"
        )
    # Comparing types only: cuda:0 and cuda (index None) are the same place.
    if generator.device.type != x.device.type:
        raise ValueError(
            f"generator must live on the same device as x ({x.device}), got a generator on "
            f"{generator.device}; create it with torch.Generator(device=x.device)"
        )


def _uniform(
    n: int, low: float, high: float, x: torch.Tensor, generator: torch.Generator | None
) -> torch.Tensor:
    """Draw ``n`` values uniformly from ``[low, high)`` on ``x``'s device, shape (n,)."""
    u = torch.rand(n, generator=generator, device=x.device, dtype=torch.float32)
    return low + (high - low) * u


def _grayscale(x: torch.Tensor) -> torch.Tensor:
    """Luma of ``x`` (N, C, H, W), C in {1, 3}, as (N, 1, H, W); one channel stays as it is."""
    # C is not checked here: color_jitter rejects other counts before any draw,
    # also when no step that needs the grey image is switched on.
    if x.shape[1] == 1:
        return x
    w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True)


# --------------------------------------------------------------------------- #
# batched tensor augmentation
# --------------------------------------------------------------------------- #
def random_flip(
    x: torch.Tensor, p: float = 0.5, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Flip each image left-right with probability ``p``.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        A batch of images (any floating dtype, any device).
    p : float
        Probability that a given image is flipped, in [0, 1].
    generator : torch.Generator, optional
        On ``x``'s device, for reproducible draws.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
        Same dtype and device as ``x``.
    """
    x = _check_images(x)
    p = check_probability(p, "p", allow_one=True)
    _check_generator(generator, x)
    flip = _uniform(x.shape[0], 0.0, 1.0, x, generator) < p  # (N,)
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)


def random_crop(
    x: torch.Tensor,
    padding: int = 4,
    mode: str = "reflect",
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Pad each image by ``padding`` and cut out a random window of the original size.

    This is a random translation by up to ``padding`` pixels in each direction,
    the standard CIFAR augmentation. All windows are gathered with one
    advanced-indexing op: sample ``n`` reads rows ``oy[n] : oy[n] + H`` and
    columns ``ox[n] : ox[n] + W`` of the padded image.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    padding : int
        Pixels added on every side (0 returns ``x`` unchanged).
    mode : {"reflect", "zero"}
        How the border is filled. ``"reflect"`` needs ``padding < H`` and ``< W``.
    generator : torch.Generator, optional
        On ``x``'s device.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
    """
    x = _check_images(x)
    padding = check_nonneg_int(padding, "padding")
    mode = check_in(mode, ("reflect", "zero"), "mode")
    _check_generator(generator, x)
    n, c, h, w = x.shape
    if padding == 0:
        return x.clone()
    if mode == "reflect" and padding >= min(h, w):
        raise ValueError(
            f"padding must be smaller than the image size {h}x{w} for mode='reflect', got {padding}"
        )
    pad_mode = "reflect" if mode == "reflect" else "constant"
    padded = F.pad(x, (padding, padding, padding, padding), mode=pad_mode)  # (N, C, H+2p, W+2p)

    dev = x.device
    oy = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)  # (N,)
    ox = torch.randint(0, 2 * padding + 1, (n,), generator=generator, device=dev)  # (N,)
    rows = oy[:, None] + torch.arange(h, device=dev)  # (N, H)
    cols = ox[:, None] + torch.arange(w, device=dev)  # (N, W)
    # The four index tensors broadcast to (N, C, H, W): one gather for the whole batch.
    return padded[
        torch.arange(n, device=dev)[:, None, None, None],
        torch.arange(c, device=dev)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def random_rotation(
    x: torch.Tensor, max_degrees: float = 15.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Rotate each image about its centre by an angle drawn from [-max_degrees, max_degrees].

    Built from ``affine_grid`` (where each output pixel should read from) and
    ``grid_sample`` (bilinear read); corners that come from outside the image
    are filled with zeros.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    max_degrees : float
        Largest rotation in degrees (>= 0; 0 returns ``x`` up to rounding).
    generator : torch.Generator, optional
        On ``x``'s device.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
    """
    x = _check_images(x)
    max_degrees = check_positive(max_degrees, "max_degrees", allow_zero=True)
    _check_generator(generator, x)
    n, _, h, w = x.shape
    if n == 0:  # an empty batch stays empty, as in the other augmentations
        return x.clone()
    angle = _uniform(n, -max_degrees, max_degrees, x, generator) * (math.pi / 180.0)  # (N,)
    # Compute in at least float32: grid_sample is not implemented for every
    # half-precision dtype on every device, and the grid needs the precision.
    work = torch.float64 if x.dtype == torch.float64 else torch.float32
    cos, sin = angle.cos().to(work), angle.sin().to(work)
    # affine_grid works in normalised coordinates ([-1, 1] across width and
    # height), so a rotation of a non-square image needs the aspect ratio to
    # stay a rotation in pixel space.
    theta = torch.zeros(n, 2, 3, dtype=work, device=x.device)  # (N, 2, 3)
    theta[:, 0, 0] = cos
    theta[:, 0, 1] = -sin * (h / w)
    theta[:, 1, 0] = sin * (w / h)
    theta[:, 1, 1] = cos
    grid = F.affine_grid(theta, [n, x.shape[1], h, w], align_corners=False)  # (N, H, W, 2)
    out = F.grid_sample(
        x.to(work), grid, mode="bilinear", padding_mode="zeros", align_corners=False
    )
    return out.to(x.dtype)


def color_jitter(
    x: torch.Tensor,
    brightness: float = 0.2,
    contrast: float = 0.2,
    saturation: float = 0.2,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Randomly change brightness, contrast and saturation of each image.

    Each factor is drawn per image from ``[1 - s, 1 + s]``:

    * brightness: ``x * b``
    * contrast: blend with the image's mean grey level, ``c * x + (1 - c) * mean``
    * saturation: blend with the grey image, ``s * x + (1 - s) * gray``

    The result is not clipped, so it also works on normalised images; on
    images in [0, 1] clamp afterwards if you need the range kept.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
        C is 1 or 3 (saturation does nothing to one channel).
    brightness, contrast, saturation : float
        Strengths in [0, 1); 0 switches that part off.
    generator : torch.Generator, optional
        On ``x``'s device.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
    """
    x = _check_images(x)
    brightness = check_probability(brightness, "brightness")
    contrast = check_probability(contrast, "contrast")
    saturation = check_probability(saturation, "saturation")
    _check_generator(generator, x)
    if x.shape[1] not in (1, 3):
        raise ValueError(
            f"x must have 1 or 3 channels for colour jitter, got {x.shape[1]} channels "
            f"(shape {tuple(x.shape)})"
        )
    n = x.shape[0]

    def factor(strength: float) -> torch.Tensor:  # (N, 1, 1, 1)
        f = _uniform(n, 1.0 - strength, 1.0 + strength, x, generator)
        return f.to(x.dtype).view(n, 1, 1, 1)

    out = x
    if brightness > 0:
        out = out * factor(brightness)
    if contrast > 0:
        mean = _grayscale(out).mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
        c = factor(contrast)
        out = c * out + (1 - c) * mean
    if saturation > 0 and x.shape[1] == 3:
        s = factor(saturation)
        out = s * out + (1 - s) * _grayscale(out)
    return out


def gaussian_noise(
    x: torch.Tensor, std: float = 0.05, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add independent Gaussian noise N(0, std^2) to every pixel.

    Parameters
    ----------
    x : Tensor of shape (N, C, H, W)
    std : float
        Standard deviation of the noise (>= 0).
    generator : torch.Generator, optional
        On ``x``'s device.

    Returns
    -------
    out : Tensor of shape (N, C, H, W)
    """
    x = _check_images(x)
    std = check_positive(std, "std", allow_zero=True)
    _check_generator(generator, x)
    noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=torch.float32)
    return x + (std * noise).to(x.dtype)


class BatchAugment:
    """Compose the batched augmentations: crop, flip, rotation, jitter, noise.

    Parameters
    ----------
    flip : bool
        Random left-right flip with probability 0.5 (switch off for digits).
    crop_padding : int
        Random-crop padding in pixels (0 switches cropping off).
    rotation : float
        Largest rotation in degrees (0 switches it off).
    jitter : float
        Brightness, contrast and saturation strength (0 switches it off).
    noise : float
        Standard deviation of added Gaussian noise (0 switches it off).
    crop_mode : {"reflect", "zero"}
        Border fill for the crop.

    Examples
    --------
    >>> aug = BatchAugment(flip=True, crop_padding=4)
    >>> xb = aug(torch.rand(8, 3, 32, 32))  # (8, 3, 32, 32)
    """

    def __init__(
        self,
        flip: bool = True,
        crop_padding: int = 4,
        rotation: float = 0.0,
        jitter: float = 0.0,
        noise: float = 0.0,
        crop_mode: str = "reflect",
    ) -> None:
        check_bool(flip, "flip")
        self.flip = flip
        self.crop_padding = check_nonneg_int(crop_padding, "crop_padding")
        self.rotation = check_positive(rotation, "rotation", allow_zero=True)
        self.jitter = check_probability(jitter, "jitter")
        self.noise = check_positive(noise, "noise", allow_zero=True)
        self.crop_mode = check_in(crop_mode, ("reflect", "zero"), "crop_mode")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Augment a batch ``x`` of shape (N, C, H, W); returns the same shape."""
        x = _check_images(x)
        if self.crop_padding > 0:
            x = random_crop(x, self.crop_padding, self.crop_mode, generator=generator)
        if self.flip:
            x = random_flip(x, 0.5, generator=generator)
        if self.rotation > 0:
            x = random_rotation(x, self.rotation, generator=generator)
        if self.jitter > 0:
            x = color_jitter(x, self.jitter, self.jitter, self.jitter, generator=generator)
        if self.noise > 0:
            x = gaussian_noise(x, self.noise, generator=generator)
        return x

    def __repr__(self) -> str:
        return (
            f"BatchAugment(flip={self.flip}, crop_padding={self.crop_padding}, "
            f"rotation={self.rotation}, jitter={self.jitter}, noise={self.noise}, "
            f"crop_mode={self.crop_mode!r})"
        )


class AugmentedLoader:
    """Wrap a loader so that every batch it yields is augmented afresh.

    Each pass over the wrapper is one pass over ``loader``, with ``augment``
    applied to the images of every batch; the labels pass through untouched.
    One seeded ``torch.Generator`` drives all the randomness and keeps running
    from epoch to epoch, so every epoch sees new augmentations, yet two
    wrappers built with the same seed (over loaders that yield the same
    batches) produce exactly the same ones. Wrap only the training loader:
    validation and test images are never augmented.

    Parameters
    ----------
    loader : iterable of (x, y)
        Re-iterable source of batches, e.g. a ``torch.utils.data.DataLoader``;
        ``x`` is a floating tensor of shape (N, C, H, W), ``y`` anything that
        goes with it (labels of shape (N,)). ``len(loader)``, where defined,
        is the number of batches.
    augment : callable
        Called as ``augment(x, generator=generator)`` on every batch, returning
        the augmented batch, normally of shape (N, C, H, W); a ``BatchAugment``
        or any function of this module, e.g. ``functools.partial(random_flip, p=0.5)``.
    seed : int
        Seed of the generator. The generator is created on the device of the
        first batch, so the wrapper also works for loaders that yield GPU
        tensors.

    Yields
    ------
    x : Tensor of shape (N, C, H, W)
        The augmented images.
    y : the labels of the batch, unchanged

    Examples
    --------
    >>> aug = BatchAugment(flip=True, crop_padding=4)
    >>> train = AugmentedLoader(loaders["train"], aug, seed=0)  # doctest: +SKIP
    >>> fit(model, train, loaders["val"], epochs=10)  # doctest: +SKIP
    """

    def __init__(
        self,
        loader: Iterable,
        augment: Callable[..., torch.Tensor],
        seed: int = 0,
    ) -> None:
        if not isinstance(loader, Iterable) or isinstance(loader, (torch.Tensor, str, bytes)):
            raise TypeError(
                f"loader must be an iterable of (x, y) batches such as a DataLoader, "
                f"got {type(loader).__name__}"
            )
        if not callable(augment):
            raise TypeError(
                f"augment must be callable as augment(x, generator=g), e.g. a BatchAugment, "
                f"got {augment!r}"
            )
        self.loader = loader
        self.augment = augment
        self.seed = check_seed(seed, for_torch=True)
        self.generator: torch.Generator | None = None

    def _generator_for(self, x: torch.Tensor) -> torch.Generator:
        # Created lazily: only the first batch tells us the device. One generator
        # for the wrapper's lifetime, so the stream continues across epochs.
        if self.generator is None:
            self.generator = torch.Generator(device=x.device).manual_seed(self.seed)
        elif self.generator.device.type != x.device.type:
            raise ValueError(
                f"x must stay on one device across batches: the generator lives on "
                f"{self.generator.device}, got a batch on {x.device}"
            )
        return self.generator

    def __len__(self) -> int:
        """Number of batches per pass, that of ``loader``."""
        try:
            return len(self.loader)  # type: ignore[arg-type]
        except TypeError as exc:
            raise TypeError(
                f"loader has no length: {type(self.loader).__name__} does not define __len__"
            ) from exc

    def __iter__(self) -> Iterator[tuple[torch.Tensor, object]]:
        for i, batch in enumerate(self.loader):
            if not isinstance(batch, (tuple, list)):
                raise TypeError(
                    f"loader must yield (x, y) pairs, got a {type(batch).__name__} as batch {i}"
                )
            if len(batch) != 2:
                raise ValueError(
                    f"loader must yield (x, y) pairs, got {len(batch)} items in batch {i}"
                )
            x, y = batch
            x = _check_images(x, f"x (the images of batch {i})")
            yield self.augment(x, generator=self._generator_for(x)), y

    def __repr__(self) -> str:
        return (
            f"AugmentedLoader(loader={type(self.loader).__name__}, augment={self.augment!r}, "
            f"seed={self.seed})"
        )


# --------------------------------------------------------------------------- #
# per-sample torchvision pipelines
# --------------------------------------------------------------------------- #
# Defaults per data set: image size, crop padding, flips, rotation, jitter.
_PIPELINE_DEFAULTS = {
    # Flips are label-preserving for objects (a car facing left is still a car).
    "cifar10": {"size": 32, "padding": 4, "flip": True, "rotation": 0.0, "jitter": 0.0},
    # Never flip digits: a mirrored 2 or 5 is not a digit any more.
    "digits": {"size": 28, "padding": 2, "flip": False, "rotation": 10.0, "jitter": 0.0},
}


def train_transforms(
    dataset: str,
    mean: Sequence[float],
    std: Sequence[float],
    augment: bool = True,
    *,
    size: int | None = None,
    padding: int | None = None,
    rotation: float | None = None,
    jitter: float | None = None,
) -> v2.Compose:
    """Per-sample torchvision (v2) pipeline for a ``Dataset``.

    With ``augment=True``: RandomCrop(size, padding), RandomHorizontalFlip (not
    for digits), RandomRotation and ColorJitter (when their strength > 0),
    then ToDtype(float32, scale=True) and Normalize(mean, std). With
    ``augment=False`` only the conversion and normalisation remain (use it for
    validation and test data).

    Parameters
    ----------
    dataset : {"cifar10", "digits"}
        Picks the defaults (size 32, padding 4, flips for CIFAR-10; size 28,
        padding 2, rotation 10 degrees, no flips for digits).
    mean, std : sequence of float of length C
        Per-channel statistics of the training images in [0, 1], computed with
        ``coursekit.datasets.normalization_stats`` (never copied from elsewhere:
        a subset or another resolution has other statistics).
    augment : bool
        Whether to add the random transforms.
    size, padding, rotation, jitter : optional
        Override the data set's defaults.

    Returns
    -------
    transform : torchvision.transforms.v2.Compose
        Maps a PIL image or a uint8 tensor of shape (C, H, W) to a float32
        tensor of shape (C, size, size).
    """
    dataset = check_in(dataset, tuple(_PIPELINE_DEFAULTS), "dataset")
    check_bool(augment, "augment")
    cfg = dict(_PIPELINE_DEFAULTS[dataset])
    for value, name in ((mean, "mean"), (std, "std")):
        if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
            raise TypeError(f"{name} must be a sequence of per-channel numbers, got {value!r}")
    mean, std = tuple(mean), tuple(std)
    if len(mean) != len(std):
        raise ValueError(
            f"mean and std must have one value per channel each, got {len(mean)} and "
            f"{len(std)} values: mean={mean!r}, std={std!r}"
        )
    for i, (m, s) in enumerate(zip(mean, std, strict=True)):
        check_finite(m, f"mean[{i}]")
        check_positive(s, f"std[{i}]")
    overrides = {"size": size, "padding": padding, "rotation": rotation, "jitter": jitter}
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    size_ = check_nonneg_int(cfg["size"], "size")
    pad = check_nonneg_int(cfg["padding"], "padding")
    rot = check_positive(cfg["rotation"], "rotation", allow_zero=True)
    jit = check_probability(cfg["jitter"], "jitter")

    steps: list = [v2.ToImage()]
    if augment:
        if pad > 0:
            steps.append(v2.RandomCrop(size_, padding=pad, padding_mode="reflect"))
        if cfg["flip"]:
            steps.append(v2.RandomHorizontalFlip())
        if rot > 0:
            steps.append(v2.RandomRotation(rot))
        if jit > 0:
            # Saturation needs colour; on one channel it would be rejected.
            sat = jit if len(mean) == 3 else 0.0
            steps.append(v2.ColorJitter(brightness=jit, contrast=jit, saturation=sat))
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(steps)
