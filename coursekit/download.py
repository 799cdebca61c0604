"""Downloads with checksums, and the preparation of the full data sets on disk.

:func:`download_and_verify` streams a file into a temporary file beside its
destination, checks its md5 and only then renames it into place: whatever fails,
no partial or corrupt file is ever left where a loader would read it.
:func:`download_dataset` fetches MNIST, Fashion-MNIST or CIFAR-10 this way from
the URLs and md5 checksums in torchvision's own resource tables, and extracts
them where the real ``torchvision.datasets`` classes read them.

Another server (a classroom mirror, a shared folder, the test suite's local
fixtures) is configured with ``$COURSEKIT_DATA_SOURCES``: see
:func:`data_sources`.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from coursekit._validate import check_in, check_positive, user_stacklevel
from coursekit.shipped import data_dir

__all__ = [
    "DownloadError",
    "ChecksumError",
    "DataSource",
    "SOURCES_ENV",
    "data_sources",
    "md5sum",
    "download_and_verify",
    "download_dataset",
    "load_full_pools",
]

FULL_DATASETS = ("mnist", "fashion_mnist", "cifar10")
_PRETTY = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST", "cifar10": "CIFAR-10"}


# --------------------------------------------------------------------------- sources

SOURCES_ENV = "COURSEKIT_DATA_SOURCES"
_SOURCE_KEYS = {"mirrors", "md5"}


@dataclass(frozen=True)
class DataSource:
    """Where one full data set is downloaded from, and the md5 each of its files must have.

    Attributes
    ----------
    name : str
        "mnist", "fashion_mnist" or "cifar10".
    mirrors : tuple of str
        Base URLs (``http://``, ``https://`` or ``file://``), tried in order in
        place of torchvision's; a file's URL is the base followed by its file
        name, e.g. ``http://mirror/mnist/`` + ``train-images-idx3-ubyte.gz``.
    md5 : dict of str to str
        Expected md5 (32 hex digits) per file name; a file not named keeps
        torchvision's checksum, so a mirror of the official files needs none.
    """

    name: str
    mirrors: tuple[str, ...]
    md5: dict[str, str] = field(default_factory=dict)


def _check_md5(md5: object, what: str) -> str:
    """``md5`` in lower case if it is 32 hex digits, else a ValueError naming ``what``."""
    low = md5.lower() if isinstance(md5, str) else md5
    if not (isinstance(low, str) and len(low) == 32 and all(c in "0123456789abcdef" for c in low)):
        raise ValueError(f"{what} must be 32 hexadecimal digits, got {md5!r}")
    return low


def _file_names(name: str) -> list[str]:
    """The files torchvision knows for full data set ``name`` (archives and, for CIFAR-10, batches)."""
    if name == "cifar10":
        from torchvision.datasets import CIFAR10

        batches = [f for f, _ in (*CIFAR10.train_list, *CIFAR10.test_list)]
        return [CIFAR10.filename, *batches, CIFAR10.meta["filename"]]
    return [f for f, _ in _mnist_class(name).resources]


def data_sources() -> dict[str, DataSource]:
    """The download sources configured by ``$COURSEKIT_DATA_SOURCES``, by data set name.

    The variable names a JSON file; each data set it lists is downloaded from
    its mirrors instead of torchvision's servers (the others are unchanged), and
    every file is still verified against its md5 before it is used::

        {
          "mnist":   {"mirrors": ["http://classroom.local/mnist/"]},
          "cifar10": {"mirrors": ["file:///srv/course-data/"],
                      "md5": {"cifar-10-python.tar.gz": "c58f30108f718f92721af3b95e74349a"}}
        }

    ``md5`` is optional: give it only for files that differ from the official
    ones (for CIFAR-10 also the extracted batches ``data_batch_1`` ...
    ``test_batch`` and ``batches.meta``, which torchvision checks too). The
    file is read on every call, so a change takes effect without a restart.

    Returns
    -------
    dict of str to DataSource
        Empty when the variable is not set.

    Raises
    ------
    FileNotFoundError
        The variable names a file that does not exist.
    ValueError
        The file is not JSON of the form above (the message says what is wrong).
    """
    env = os.environ.get(SOURCES_ENV)
    if not env:
        return {}
    path = Path(env).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{SOURCES_ENV}={env!r} must name a JSON file, but {path} is none")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{SOURCES_ENV} file {path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ValueError(
            f"{SOURCES_ENV} file {path} must hold a JSON object keyed by data set name, "
            f"got {type(config).__name__}"
        )
    sources = {}
    for name, entry in config.items():
        where = f"{SOURCES_ENV} file {path}: {name!r}"
        if name not in FULL_DATASETS:
            raise ValueError(f"{where} is not a full data set, expected one of {FULL_DATASETS}")
        if (
            not isinstance(entry, dict)
            or not entry.keys() <= _SOURCE_KEYS
            or "mirrors" not in entry
        ):
            raise ValueError(
                f"{where} must be an object with 'mirrors' (a list of base URLs) and optionally "
                f"'md5' (file name -> md5), got {entry!r}"
            )
        mirrors = entry["mirrors"]
        if not (
            isinstance(mirrors, list) and mirrors and all(isinstance(m, str) and m for m in mirrors)
        ):
            raise ValueError(f"{where} 'mirrors' must be a non-empty list of URLs, got {mirrors!r}")
        md5 = entry.get("md5", {})
        if not isinstance(md5, dict):
            raise ValueError(f"{where} 'md5' must map file names to md5s, got {md5!r}")
        known = _file_names(name)
        for filename in md5:
            if filename not in known:
                raise ValueError(f"{where} has no file {filename!r}, expected one of {known}")
        sources[name] = DataSource(
            name=name,
            # a file's URL is base + file name, so every base ends with a slash
            mirrors=tuple(m if m.endswith("/") else m + "/" for m in mirrors),
            md5={f: _check_md5(v, f"{where} md5 of {f!r}") for f, v in md5.items()},
        )
    return sources


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
    md5 = _check_md5(md5, "md5")
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
            stacklevel=user_stacklevel(),
        )
        archive.unlink()
    if not download:
        raise FileNotFoundError(
            f"{name} file {archive.name} not found in {archive.parent}; call "
            f"load_dataset(..., download=True) or copy {archive.name} (md5 {md5}) there"
        )
    download_and_verify(urls, archive, md5, timeout, name=name)


def _mnist_class(name: str) -> type:
    """torchvision's class for ``name`` ("mnist" or "fashion_mnist")."""
    from torchvision import datasets as tvd

    return tvd.MNIST if name == "mnist" else tvd.FashionMNIST


def _cifar10_class() -> type:
    """torchvision's CIFAR10, with the batch checksums of the configured source if it sets any.

    torchvision verifies every extracted batch against the md5s in its class
    attributes before reading it, so a source with other batches (a fixture, a
    re-packed mirror) needs a subclass that carries their checksums.
    """
    from torchvision.datasets import CIFAR10

    source = data_sources().get("cifar10")
    if source is None or not set(source.md5) - {CIFAR10.filename}:
        return CIFAR10
    md5 = source.md5
    meta = CIFAR10.meta
    return type(
        "CIFAR10",
        (CIFAR10,),
        {
            "__doc__": f"torchvision's CIFAR10 with the checksums of ${SOURCES_ENV}.",
            "train_list": [[f, md5.get(f, m)] for f, m in CIFAR10.train_list],
            "test_list": [[f, md5.get(f, m)] for f, m in CIFAR10.test_list],
            "meta": {**meta, "md5": md5.get(meta["filename"], meta["md5"])},
        },
    )


def _prepare_mnist(name: str, root: Path, download: bool, timeout: float) -> type:
    """Put MNIST-format files where torchvision's MNIST/FashionMNIST reads them; return that class."""
    from torchvision.datasets.utils import extract_archive

    cls = _mnist_class(name)
    source = data_sources().get(name)
    mirrors = source.mirrors if source is not None else tuple(cls.mirrors)
    raw = root / cls.__name__ / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for filename, md5 in cls.resources:
        target = raw / filename.removesuffix(".gz")
        if _idx_complete(target):
            continue
        if source is not None:
            md5 = source.md5.get(filename, md5)
        archive = raw / filename
        urls = [f"{mirror}{filename}" for mirror in mirrors]
        _ensure_archive(archive, md5, urls, download, _PRETTY[name], timeout)
        # decompress beside the target, then rename: never a half-written IDX file
        with tempfile.TemporaryDirectory(dir=raw, prefix=".extract-") as tmp:
            out = extract_archive(str(archive), tmp)
            os.replace(out, target)
    return cls


def _prepare_cifar10(root: Path, download: bool, timeout: float) -> type:
    """Put CIFAR-10's python batches where torchvision's CIFAR10 reads them; return that class."""
    from torchvision.datasets.utils import check_integrity, extract_archive

    cls = _cifar10_class()
    base = root / cls.base_folder
    needed = [*cls.train_list, *cls.test_list, (cls.meta["filename"], cls.meta["md5"])]
    if all(check_integrity(str(base / f), md5) for f, md5 in needed):
        return cls
    source = data_sources().get("cifar10")
    if source is None:
        urls, md5 = [cls.url], cls.tgz_md5
    else:
        urls = [f"{mirror}{cls.filename}" for mirror in source.mirrors]
        md5 = source.md5.get(cls.filename, cls.tgz_md5)
    archive = root / cls.filename
    _ensure_archive(archive, md5, urls, download, "CIFAR-10", timeout)
    with tempfile.TemporaryDirectory(dir=root, prefix=".extract-") as tmp:
        extract_archive(str(archive), tmp)
        if base.exists():
            shutil.rmtree(base)
        os.replace(Path(tmp) / cls.base_folder, base)
    return cls


def _prepare(name: str, root: Path, download: bool, timeout: float) -> type:
    """Make sure full data set ``name`` is complete under ``root``; return the class that reads it."""
    if name == "cifar10":
        return _prepare_cifar10(root, download, timeout)
    return _prepare_mnist(name, root, download, timeout)


def download_dataset(name: str, root: str | os.PathLike | None = None, timeout: float = 30) -> Path:
    """Fetch, verify and extract a full data set (e.g. before a class); returns its root.

    Parameters
    ----------
    name : {"mnist", "fashion_mnist", "cifar10"}
    root : path, optional
        Folder for the full data sets (default ``data_dir() / "full"``).
    timeout : float
        Seconds to wait for a download server.
    """
    check_in(name, FULL_DATASETS, "name")
    timeout = check_positive(timeout, "timeout")
    root = Path(root) if root is not None else data_dir() / "full"
    root.mkdir(parents=True, exist_ok=True)
    _prepare(name, root, True, timeout)
    return root


def load_full_pools(
    name: str, root: Path, download: bool, timeout: float
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The official (train, test) pools of a full data set, prepared (downloaded) as needed.

    Returns
    -------
    (train_images, train_labels), (test_images, test_labels)
        Images of shape (N, C, H, W) uint8 (C = 1 for MNIST, 3 for CIFAR-10),
        labels of shape (N,) int64.
    """
    root.mkdir(parents=True, exist_ok=True)
    cls = _prepare(name, root, download, timeout)
    pools = []
    for train in (True, False):
        ds = cls(str(root), train=train, download=False)
        if name == "cifar10":
            # torchvision keeps CIFAR as (N, H, W, C); the course uses NCHW
            images = np.ascontiguousarray(ds.data.transpose(0, 3, 1, 2))
            pools.append((images, np.asarray(ds.targets, dtype=np.int64)))
        else:
            pools.append((ds.data.numpy()[:, None], ds.targets.numpy().astype(np.int64)))
    return pools[0], pools[1]
