"""Tiny stand-ins for the full data sets, in their real on-disk formats, served on 127.0.0.1.

The bytes are generated here (nothing binary is committed) and are the same for
the same sizes and seed:

* MNIST and Fashion-MNIST: the four gzipped IDX files torchvision expects
  (``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
  ``t10k-images-idx3-ubyte.gz``, ``t10k-labels-idx1-ubyte.gz``);
* CIFAR-10: ``cifar-10-python.tar.gz``, a tarball of ``cifar-10-batches-py/``
  holding the pickled ``data_batch_1`` ... ``data_batch_5``, ``test_batch`` and
  ``batches.meta``, laid out as in the original.

Each class has its own mean image plus noise, so a network can learn something
from a few hundred images (the smoke run checks that code runs, not accuracy).
:func:`serve_fixtures` writes them into a folder, serves it over HTTP and
writes the ``$COURSEKIT_DATA_SOURCES`` file (mirror URL and md5 of every file)
that points coursekit's real download code at it.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import hashlib
import io
import json
import pickle
import struct
import tarfile
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np

from coursekit.splits import CIFAR10_CLASSES


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def class_images(
    labels: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator
) -> np.ndarray:
    """uint8 images of the given per-image ``shape``: one random template per class, plus noise.

    Parameters
    ----------
    labels : ndarray of shape (N,), int in [0, 10)
    shape : tuple, the shape of one image, e.g. (28, 28) or (32, 32, 3)
    rng : numpy Generator

    Returns
    -------
    ndarray of shape (N, *shape), uint8
    """
    templates = rng.uniform(0, 255, size=(10, *shape))
    noise = rng.normal(0, 40, size=(len(labels), *shape))
    return np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)


def balanced_labels(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` labels, every class as often as possible (needs n >= 10), shuffled."""
    if n < 10:
        raise ValueError(f"n must be >= 10 so that every class occurs, got {n}")
    return rng.permutation(np.arange(n) % 10).astype(np.uint8)


def idx_gz(arr: np.ndarray) -> bytes:
    """An unsigned-byte array as a gzipped IDX file (MNIST's format: big-endian header, raw bytes)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return gzip.compress(header + arr.astype(np.uint8).tobytes(), mtime=0)


def mnist_files(n_train: int, n_test: int, seed: int) -> dict[str, bytes]:
    """The four gzipped IDX files of an MNIST-format data set with 28x28 images.

    Returns
    -------
    dict of file name to bytes
    """
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = balanced_labels(n, rng)
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_gz(class_images(labels, (28, 28), rng))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_gz(labels)
    return files


def cifar10_files(
    n_per_batch: int, n_test: int, seed: int
) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """CIFAR-10's python tarball: 5 training batches of ``n_per_batch`` images, a test batch of ``n_test``.

    The images are 32x32 colour, stored as in the original (rows of 3072 bytes).

    Returns
    -------
    files : dict of file name to bytes
        ``{"cifar-10-python.tar.gz": ...}``, the file a server offers.
    members : dict of file name to bytes
        The tarball's pickles (``data_batch_1`` ... ``test_batch``, ``batches.meta``),
        whose md5s torchvision checks after extraction.
    """
    rng = np.random.default_rng(seed)
    templates_rng = np.random.default_rng(seed + 1)  # the same class means in every batch
    templates = templates_rng.uniform(0, 255, size=(10, 3, 32, 32))
    members = {}
    for k in range(1, 7):
        n = n_test if k == 6 else n_per_batch
        labels = balanced_labels(n, rng)
        noise = rng.normal(0, 40, size=(n, 3, 32, 32))
        images = np.clip(templates[labels] + noise, 0, 255).astype(np.uint8)
        name = "test_batch" if k == 6 else f"data_batch_{k}"
        batch = {
            "batch_label": f"{'testing' if k == 6 else 'training'} batch {k} of 6",
            "labels": [int(v) for v in labels],
            # rows of 3072 bytes: the red plane, then green, then blue, as in the original
            "data": images.reshape(n, 3072),
            "filenames": [f"fixture_{k}_{i}.png" for i in range(n)],
        }
        members[name] = pickle.dumps(batch, protocol=2)
    members["batches.meta"] = pickle.dumps(
        {"label_names": CIFAR10_CLASSES, "num_cases_per_batch": n_per_batch, "num_vis": 3072},
        protocol=2,
    )
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return {"cifar-10-python.tar.gz": buf.getvalue()}, members


def write_fixtures(folder: Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    """Write the three data sets under ``folder/<name>/`` and return their sources config.

    Parameters
    ----------
    folder : Path
        Created if needed; gets ``mnist/``, ``fashion_mnist/`` and ``cifar10/``.
    n_train, n_test : int
        Images in the training and test files (CIFAR-10: ``n_train // 5`` in
        each of its 5 training batches; n_train a multiple of 5, >= 50; n_test >= 10).

    Returns
    -------
    dict
        ``{name: {"mirrors": [], "md5": {file: md5}}}``: the JSON of
        ``$COURSEKIT_DATA_SOURCES`` without the base URLs, which :func:`serve_fixtures`
        fills in.
    """
    if n_train < 50 or n_test < 10 or n_train % 5:
        raise ValueError(
            f"n_train must be a multiple of 5 and >= 50, n_test >= 10, got {n_train}, {n_test}"
        )
    config = {}
    sets = {
        "mnist": (mnist_files(n_train, n_test, seed), {}),
        "fashion_mnist": (mnist_files(n_train, n_test, seed + 100), {}),
        "cifar10": cifar10_files(n_train // 5, n_test, seed + 200),
    }
    for name, (files, members) in sets.items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        for filename, data in files.items():
            (folder / name / filename).write_bytes(data)
        checksums = {f: md5(d) for f, d in {**files, **members}.items()}
        config[name] = {"mirrors": [], "md5": checksums}
    return config


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # no request log on stderr
        pass


@contextlib.contextmanager
def serve_fixtures(folder: Path, n_train: int, n_test: int, seed: int = 0) -> Iterator[Path]:
    """Write the fixtures, serve them on 127.0.0.1 and yield the sources JSON file.

    Point ``$COURSEKIT_DATA_SOURCES`` at the yielded path: coursekit then
    downloads from this server, verifying each file's md5 as usual. The server
    stops when the ``with`` block ends.
    """
    www = folder / "www"
    config = write_fixtures(www, n_train, n_test, seed)
    handler = functools.partial(_QuietHandler, directory=str(www))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        for name, entry in config.items():
            entry["mirrors"] = [f"{url}/{name}/"]
        sources = folder / "sources.json"
        sources.write_text(json.dumps(config, indent=2))
        yield sources
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
