"""coursekit.download on its own: checksums, the streamed download, its errors and the prepared files.

Every download goes to a server on 127.0.0.1 (this module's, which can cut,
slow down or garble a reply, or the fixtures of full_mode_fixtures.py); nothing
in coursekit is monkeypatched. tests/test_datasets.py runs the same code end
to end through ``load_dataset``.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torchvision.datasets.utils as tv_utils
from full_mode_fixtures import serve_fixtures, write_fixtures
from helpers import local_http_server
from torchvision import datasets as tvd

from coursekit import datasets, distributed
from coursekit import download as dl


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@pytest.fixture
def server():
    with local_http_server() as httpd:
        httpd.seen = None
        httpd.on_watch = lambda: setattr(httpd, "seen", _files_under(httpd.watch))
        yield httpd


def _refused_url() -> str:
    port = distributed.free_port()  # bound, read and closed: nothing listens there
    return f"http://127.0.0.1:{port}/f.gz"


# --------------------------------------------------------------------------- md5sum


@pytest.mark.parametrize("chunk_size", [1, 7, 1 << 20])
def test_md5sum_is_the_files_md5_whatever_the_chunk_size(tmp_path, chunk_size):
    data = np.random.default_rng(0).integers(0, 256, 10_000, dtype=np.uint8).tobytes()
    (tmp_path / "f").write_bytes(data)
    (tmp_path / "empty").write_bytes(b"")
    assert dl.md5sum(tmp_path / "f", chunk_size) == _md5(data)
    assert dl.md5sum(str(tmp_path / "empty"), chunk_size) == "d41d8cd98f00b204e9800998ecf8427e"


# --------------------------------------------------------------------------- download_and_verify


def test_the_download_goes_to_a_hidden_part_file_beside_its_destination(tmp_path, server):
    body = b"the file's bytes" * 1000
    server.routes["/f.bin"] = (body, "watch")
    dest = tmp_path / "new" / "sub" / "f.bin"  # folders created
    server.watch = tmp_path
    out = dl.download_and_verify(server.url + "/f.bin", dest, _md5(body), progress=False)
    assert out == dest and dest.read_bytes() == body
    # while the server answered, the bytes went to a temporary file in dest's folder
    [part] = server.seen
    assert re.fullmatch(r"new/sub/\.f\.bin\.[^/]+\.part", part)
    assert _files_under(tmp_path) == ["new/sub/f.bin"]
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644  # readable by all, as a download is


def test_a_cut_download_leaves_neither_part_file_nor_destination(tmp_path, server):
    body = bytes(range(256)) * 800  # 204,800 bytes: several reads of 64 KiB
    server.routes["/f.bin"] = (body, "truncate")
    dest = tmp_path / "f.bin"
    with pytest.raises(dl.ChecksumError) as info:
        dl.download_and_verify(server.url + "/f.bin", dest, _md5(body), progress=False)
    got = _md5(body[:102_400])
    assert str(info.value) == (
        f"checksum mismatch for f.bin: expected md5 {_md5(body)}, got {got} (the transfer "
        "stopped after 102400 of 204800 bytes); the file was deleted, try again"
    )
    assert _files_under(tmp_path) == []


def test_without_a_content_length_a_wrong_file_is_not_called_cut(tmp_path, server):
    server.routes["/f.bin"] = (b"short", "no-length")
    with pytest.raises(dl.ChecksumError) as info:
        dl.download_and_verify(server.url + "/f.bin", tmp_path / "f.bin", "0" * 32, progress=False)
    assert str(info.value) == (
        f"checksum mismatch for f.bin: expected md5 {'0' * 32}, got {_md5(b'short')}; "
        "the file was deleted, try again"
    )
    assert _files_under(tmp_path) == []
    # and the right bytes without a length are accepted
    out = dl.download_and_verify(
        server.url + "/f.bin", tmp_path / "g", _md5(b"short"), 5, progress=False
    )
    assert out.read_bytes() == b"short"


def test_the_progress_bar_names_the_file_and_counts_its_bytes(tmp_path, server, capsys):
    import tqdm.auto
    import tqdm.notebook

    # tqdm.auto picks its class on first import, and tqdm 4.70 takes a loaded
    # ipykernel.zmqshell for a notebook: CI runs where an earlier test had loaded it
    # (coursekit.notebooks once did) drew a widget here and wrote no text at all.
    assert not issubclass(tqdm.auto.tqdm, tqdm.notebook.tqdm), (
        "tqdm.auto is the notebook widget: something in this process imported "
        "ipykernel.zmqshell before tqdm.auto"
    )
    body = b"x" * 300_000
    server.routes["/f.bin"] = (body, None)
    dl.download_and_verify(server.url + "/f.bin", tmp_path / "f.bin", _md5(body))
    err = capsys.readouterr().err
    last = err.split("\r")[-1].strip()
    assert re.fullmatch(r"f\.bin: 100%\|█+\| 300k/300k \[[\d:<]+, [\d.]+[kMG]?B/s\]", last), repr(
        err
    )
    dl.download_and_verify(server.url + "/f.bin", tmp_path / "g.bin", _md5(body), progress=False)
    assert capsys.readouterr() == ("", "")  # no bar


def test_a_server_slower_than_the_timeout_is_given_up(tmp_path, server):
    server.routes["/f.bin"] = (b"late", "slow")
    url = server.url + "/f.bin"
    with pytest.raises(dl.DownloadError) as info:
        dl.download_and_verify(url, tmp_path / "f.bin", _md5(b"late"), 0.5, progress=False)
    assert str(info.value) == (
        f"could not download f.bin from {url}: {url}: TimeoutError: timed out. You seem to be "
        "offline: use the embedded default (dataset='digits') or copy the files to "
        f"{tmp_path}"
    )
    assert _files_under(tmp_path) == []
    out = dl.download_and_verify(url, tmp_path / "f.bin", _md5(b"late"), 10, progress=False)
    assert out.read_bytes() == b"late"


def test_a_server_that_speaks_no_http_is_not_called_offline(tmp_path, server):
    server.routes["/f.gz"] = (b"", "garbage")
    refused = _refused_url()
    urls = (refused, server.url + "/f.gz")  # any sequence of URLs
    with pytest.raises(dl.DownloadError) as info:
        dl.download_and_verify(urls, tmp_path / "f.gz", "0" * 32, progress=False)
    assert not isinstance(info.value, dl.ChecksumError)
    message = str(info.value)
    assert message.startswith(
        f"could not download f.gz from {refused}, {server.url}/f.gz: {refused}: "
    )
    assert re.search(r"\[Errno \d+\] Connection refused; ", message)
    assert message.endswith(
        f"; {server.url}/f.gz: BadStatusLine: garbage. The server(s) did not have the file: "
        f"use the embedded default (dataset='digits') or copy the files to {tmp_path}"
    )


def test_a_missing_file_names_the_http_error(tmp_path, server):
    url = server.url + "/nothing.gz"
    with pytest.raises(dl.DownloadError) as info:
        dl.download_and_verify([url], tmp_path / "x.gz", "0" * 32, name="MNIST", progress=False)
    assert str(info.value) == (
        f"could not download MNIST from {url}: {url}: HTTP error 404 Not Found. The server(s) "
        f"did not have the file: use the embedded default (dataset='digits') or copy the files "
        f"to {tmp_path}"
    )


def test_a_wrong_file_from_any_mirror_is_a_checksum_error(tmp_path, server):
    server.routes["/a/f"], server.routes["/b/f"] = (b"one", None), (b"two", None)
    md5 = _md5(b"three")
    # a wrong file, then no file: the checksum error is what counts
    with pytest.raises(
        dl.ChecksumError,
        match=rf"^checksum mismatch for f: expected md5 {md5}, got {_md5(b'one')};",
    ):
        dl.download_and_verify(
            [server.url + "/a/f", server.url + "/c/f"], tmp_path / "f", md5, progress=False
        )
    # two wrong files: the last mirror's
    with pytest.raises(
        dl.ChecksumError,
        match=rf"^checksum mismatch for f: expected md5 {md5}, got {_md5(b'two')};",
    ):
        dl.download_and_verify(
            [server.url + "/a/f", server.url + "/b/f"], tmp_path / "f", md5, progress=False
        )
    assert server.requests == ["/a/f", "/c/f", "/a/f", "/b/f"]
    assert _files_under(tmp_path) == []


@pytest.mark.parametrize(
    ("urls", "md5", "error", "match"),
    [
        (
            ["http://127.0.0.1/x", 3],
            "0" * 32,
            TypeError,
            r"^url_or_urls must be a URL or a non-empty list of URLs, got \['http://127\.0\.0\.1/x', 3\]$",
        ),
        (
            (),
            "0" * 32,
            TypeError,
            r"^url_or_urls must be a URL or a non-empty list of URLs, got \[\]$",
        ),
        (
            "http://127.0.0.1/x",
            "g" * 32,
            ValueError,
            r"^md5 must be 32 hexadecimal digits, got 'g{32}'$",
        ),
        (
            "http://127.0.0.1/x",
            "0" * 31,
            ValueError,
            r"^md5 must be 32 hexadecimal digits, got '0{31}'$",
        ),
        (
            "http://127.0.0.1/x",
            "0" * 33,
            ValueError,
            r"^md5 must be 32 hexadecimal digits, got '0{33}'$",
        ),
        (
            "http://127.0.0.1/x",
            12345,
            ValueError,
            r"^md5 must be 32 hexadecimal digits, got 12345$",
        ),
    ],
)
def test_download_and_verify_names_the_bad_argument(tmp_path, urls, md5, error, match):
    with pytest.raises(error, match=match):
        dl.download_and_verify(urls, tmp_path / "x", md5)
    assert _files_under(tmp_path) == []


# --------------------------------------------------------------------------- $COURSEKIT_DATA_SOURCES


def _sources(tmp_path, monkeypatch, config) -> None:
    path = tmp_path / "sources.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv(dl.SOURCES_ENV, str(path))


def test_the_sources_file_may_be_named_from_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "s.json").write_text(json.dumps({"mnist": {"mirrors": ["http://m"]}}))
    monkeypatch.setenv(dl.SOURCES_ENV, "~/s.json")
    assert dl.data_sources() == {"mnist": dl.DataSource("mnist", ("http://m/",))}


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"\xff\xfe not text", r"is not valid JSON: 'utf-8' codec can't decode"),
        (
            json.dumps({"mnist": ["http://m/"]}).encode(),
            r"'mnist' must be an object with 'mirrors'",
        ),
        (
            json.dumps({"mnist": {"mirrors": ["http://m/"], "md6": {}}}).encode(),
            r"'mnist' must be an object with 'mirrors' \(a list of base URLs\) and optionally 'md5' \(file name -> md5\), got \{'mirrors'",
        ),
        (
            json.dumps({"mnist": {"mirrors": ["http://m/", ""]}}).encode(),
            r"'mnist' 'mirrors' must be a non-empty list of URLs, got \['http://m/', ''\]$",
        ),
        (
            json.dumps({"mnist": {"mirrors": [1]}}).encode(),
            r"'mnist' 'mirrors' must be a non-empty list of URLs, got \[1\]$",
        ),
        (
            json.dumps({"mnist": {"mirrors": ["http://m/"], "md5": ["x"]}}).encode(),
            r"'mnist' 'md5' must map file names to md5s, got \['x'\]$",
        ),
    ],
)
def test_a_bad_sources_file_says_what_is_wrong(tmp_path, monkeypatch, content, match):
    path = tmp_path / "sources.json"
    path.write_bytes(content)
    monkeypatch.setenv(dl.SOURCES_ENV, str(path))
    with pytest.raises(
        ValueError, match=rf"^{dl.SOURCES_ENV} file {re.escape(str(path))}[ :].*{match}"
    ):
        dl.data_sources()


def test_a_sources_folder_is_not_a_file(tmp_path, monkeypatch):
    monkeypatch.setenv(dl.SOURCES_ENV, str(tmp_path))
    match = rf"^{dl.SOURCES_ENV}='{re.escape(str(tmp_path))}' must name a JSON file, but {re.escape(str(tmp_path))} is none$"
    with pytest.raises(FileNotFoundError, match=match):
        dl.data_sources()


def test_batch_checksums_of_a_source_replace_only_those_it_names(tmp_path, monkeypatch):
    official = tvd.CIFAR10
    mine = "ab" * 16
    _sources(
        tmp_path,
        monkeypatch,
        {
            "cifar10": {
                "mirrors": ["http://m/"],
                "md5": {"data_batch_2": mine.upper(), "cifar-10-python.tar.gz": "cd" * 16},
            }
        },
    )
    cls = dl._cifar10_class()
    assert issubclass(cls, official) and cls is not official and cls.__name__ == "CIFAR10"
    assert cls.__doc__ == "torchvision's CIFAR10 with the checksums of $COURSEKIT_DATA_SOURCES."
    expected = [[f, mine if f == "data_batch_2" else m] for f, m in official.train_list]
    assert cls.train_list == expected and cls.train_list != official.train_list
    assert cls.test_list == [list(t) for t in official.test_list]
    assert cls.meta == official.meta
    # the same with the meta file and the test batch named
    _sources(
        tmp_path,
        monkeypatch,
        {"cifar10": {"mirrors": ["http://m/"], "md5": {"batches.meta": mine, "test_batch": mine}}},
    )
    cls = dl._cifar10_class()
    assert cls.train_list == [list(t) for t in official.train_list]
    assert cls.test_list == [["test_batch", mine]]
    assert cls.meta == {**official.meta, "md5": mine}
    # only the archive's checksum: torchvision's own class
    _sources(
        tmp_path,
        monkeypatch,
        {"cifar10": {"mirrors": ["http://m/"], "md5": {"cifar-10-python.tar.gz": mine}}},
    )
    assert dl._cifar10_class() is official


def _official(monkeypatch, config) -> None:
    """Make the fixtures' checksums torchvision's own, as a mirror of the official files has."""
    md5 = config["cifar10"]["md5"]
    monkeypatch.setattr(tvd.CIFAR10, "tgz_md5", md5["cifar-10-python.tar.gz"])
    monkeypatch.setattr(
        tvd.CIFAR10,
        "train_list",
        [[f"data_batch_{k}", md5[f"data_batch_{k}"]] for k in range(1, 6)],
    )
    monkeypatch.setattr(tvd.CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(tvd.CIFAR10, "meta", {**tvd.CIFAR10.meta, "md5": md5["batches.meta"]})
    resources = [(f, config["mnist"]["md5"][f]) for f, _ in tvd.MNIST.resources]
    monkeypatch.setattr(tvd.MNIST, "resources", resources)


def test_a_mirror_of_the_official_files_needs_no_md5(tmp_path, monkeypatch):
    with serve_fixtures(tmp_path, n_train=50, n_test=10) as sources:
        config = json.loads(sources.read_text())
        _official(monkeypatch, config)
        _sources(
            tmp_path,
            monkeypatch,
            {n: {"mirrors": config[n]["mirrors"]} for n in ("mnist", "cifar10")},
        )
        root = tmp_path / "full"
        for name in ("mnist", "cifar10"):
            splits = datasets.load_dataset(name, root=root, val_fraction=0.2)
            assert [len(y) for _, y in (splits.train, splits.val, splits.test)] == [40, 10, 10]
    assert "cifar-10-batches-py/test_batch" in _files_under(root)
    assert "MNIST/raw/t10k-labels-idx1-ubyte" in _files_under(root)


# --------------------------------------------------------------------------- the prepared files


def test_once_extracted_the_archives_are_not_needed(tmp_path, monkeypatch):
    with serve_fixtures(tmp_path, n_train=50, n_test=10) as sources:
        monkeypatch.setenv(dl.SOURCES_ENV, str(sources))
        root = tmp_path / "full"
        first = {n: datasets.load_dataset(n, root=root) for n in ("mnist", "cifar10")}
    archives = [p for p in root.rglob("*.gz")]
    assert len(archives) == 5
    for p in archives:
        p.unlink()
    # the server is gone and the archives too: the extracted files are checked and read
    for name, splits in first.items():
        again = datasets.load_dataset(name, root=root, download=False)
        np.testing.assert_array_equal(again.train[0], splits.train[0])
        np.testing.assert_array_equal(again.test[1], splits.test[1])
    assert not [p for p in root.rglob("*.gz")]


def test_downloads_and_extraction_stay_in_the_data_folder(tmp_path, monkeypatch):
    """Never the system's temp folder (maybe another file system, where a rename is a copy)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no-temp-folder"))
    extracted_in = []

    def extract(from_path, to_path=None, *args, **kwargs):
        extracted_in.append(Path(to_path))
        return real(from_path, to_path, *args, **kwargs)

    real = tv_utils.extract_archive
    monkeypatch.setattr(tv_utils, "extract_archive", extract)
    with serve_fixtures(tmp_path, n_train=50, n_test=10) as sources:
        monkeypatch.setenv(dl.SOURCES_ENV, str(sources))
        root = tmp_path / "full"
        for name in ("mnist", "cifar10"):
            datasets.load_dataset(name, root=root)
    assert len(extracted_in) == 5
    assert [p.parent for p in extracted_in] == [root / "MNIST" / "raw"] * 4 + [root]
    assert all(p.name.startswith(".extract-") for p in extracted_in)
    assert not [p for p in extracted_in if p.exists()]


def _idx(type_code: int, shape: tuple[int, ...], n_bytes: int) -> bytes:
    return (
        struct.pack(">BBBB", 0, 0, type_code, len(shape))
        + struct.pack(f">{len(shape)}I", *shape)
        + b"\1" * n_bytes
    )


@pytest.mark.parametrize(
    ("code", "itemsize"), [(0x08, 1), (0x09, 1), (0x0B, 2), (0x0C, 4), (0x0D, 4), (0x0E, 8)]
)
def test_an_idx_file_is_complete_when_its_size_matches_its_header(tmp_path, code, itemsize):
    path = tmp_path / "f"
    for n_bytes, complete in [
        (6 * itemsize, True),
        (6 * itemsize - 1, False),
        (6 * itemsize + 1, False),
    ]:
        path.write_bytes(_idx(code, (2, 3), n_bytes))
        assert dl._idx_complete(path) is complete, (n_bytes, complete)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\0\0\x08",
        b"\1\0\x08\1" + b"\0\0\0\1x",
        b"\0\1\x08\1" + b"\0\0\0\1x",
        b"\0\0\x0a\1" + b"\0\0\0\1x",
        b"\0\0\x08\2" + b"\0\0\0\1",
    ],
    ids=["empty", "short-magic", "byte-0", "byte-1", "type", "short-dims"],
)
def test_what_is_no_idx_file_is_not_complete(tmp_path, data):
    (tmp_path / "f").write_bytes(data)
    assert dl._idx_complete(tmp_path / "f") is False
    assert dl._idx_complete(tmp_path / "missing") is False


def test_nothing_found_and_no_download_names_the_file_and_its_md5(tmp_path):
    root = tmp_path / "full"
    message = (
        f"CIFAR-10 file cifar-10-python.tar.gz not found in {root}; call "
        f"load_dataset(..., download=True) or copy cifar-10-python.tar.gz (md5 {tvd.CIFAR10.tgz_md5}) there"
    )
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        dl.load_full_pools("cifar10", root, False, 30)
    assert _files_under(tmp_path) == []


# --------------------------------------------------------------------------- download_dataset


def test_download_dataset_fills_the_default_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSEKIT_DATA", str(tmp_path / "course" / "data"))  # not there yet
    with serve_fixtures(tmp_path, n_train=50, n_test=10) as sources:
        monkeypatch.setenv(dl.SOURCES_ENV, str(sources))
        root = dl.download_dataset("fashion_mnist")
        assert root == tmp_path / "course" / "data" / "full"
        nested = dl.download_dataset("cifar10", root=tmp_path / "a" / "b", timeout=5)
        assert nested == tmp_path / "a" / "b"
    assert "FashionMNIST/raw/train-images-idx3-ubyte" in _files_under(root)
    assert "cifar-10-batches-py/data_batch_1" in _files_under(nested)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"name": "svhn"},
            ValueError,
            r"^name must be one of \['mnist', 'fashion_mnist', 'cifar10'\], got 'svhn'$",
        ),
        (
            {"name": "mnist", "timeout": 0},
            ValueError,
            r"^timeout must be a finite number > 0, got 0\.0$",
        ),
    ],
)
def test_download_dataset_names_the_bad_argument(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):
        dl.download_dataset(root=tmp_path / "full", **kwargs)
    assert not (tmp_path / "full").exists()


def test_a_new_nested_root_without_download_names_the_missing_file(tmp_path):
    root = tmp_path / "a" / "b"
    raw = root / "MNIST" / "raw"
    md5 = dict(tvd.MNIST.resources)["train-images-idx3-ubyte.gz"]
    message = (
        f"MNIST file train-images-idx3-ubyte.gz not found in {raw}; call load_dataset(..., "
        f"download=True) or copy train-images-idx3-ubyte.gz (md5 {md5}) there"
    )
    with pytest.raises(FileNotFoundError, match=f"^{re.escape(message)}$"):
        dl.load_full_pools("mnist", root, False, 30)
    assert raw.is_dir() and _files_under(tmp_path) == []


def _mnist_source(tmp_path, monkeypatch, server, mode=None) -> dict:
    """Serve the fixtures' MNIST from this module's server (``mode`` for every file)."""
    config = write_fixtures(tmp_path / "www", n_train=50, n_test=10)["mnist"]
    for name in config["md5"]:
        server.routes[f"/m/{name}"] = ((tmp_path / "www" / "mnist" / name).read_bytes(), mode)
    _sources(
        tmp_path, monkeypatch, {"mnist": {"mirrors": [server.url + "/m/"], "md5": config["md5"]}}
    )
    return config


def test_the_timeout_reaches_the_download(tmp_path, monkeypatch, server):
    _mnist_source(tmp_path, monkeypatch, server, mode="slow")
    with pytest.raises(
        dl.DownloadError, match=r"train-images-idx3-ubyte\.gz: TimeoutError: timed out\. You seem"
    ):
        dl.download_dataset("mnist", root=tmp_path / "full", timeout=0.5)


def test_the_full_pools_are_uint8_nchw_images_and_int64_labels(tmp_path, monkeypatch, server):
    _mnist_source(tmp_path, monkeypatch, server)
    (train_x, train_y), (test_x, test_y) = dl.load_full_pools("mnist", tmp_path / "full", True, 30)
    assert train_x.shape == (50, 1, 28, 28) and test_x.shape == (10, 1, 28, 28)
    assert train_x.dtype == test_x.dtype == np.uint8
    assert train_y.dtype == test_y.dtype == np.int64
    assert sorted(np.bincount(train_y).tolist()) == [5] * 10


@pytest.mark.parametrize("download", [True, False])
def test_a_corrupt_archive_is_announced_then_deleted(tmp_path, monkeypatch, server, download):
    config = _mnist_source(tmp_path, monkeypatch, server)
    raw = tmp_path / "full" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    archive = raw / "train-images-idx3-ubyte.gz"
    archive.write_bytes(b"not the archive")
    message = f"{archive} has the wrong checksum (incomplete or corrupt); it is deleted"
    message += " and downloaded again" if download else ""
    with pytest.warns(UserWarning) as record:
        if download:
            dl.load_full_pools("mnist", tmp_path / "full", True, 30)
            assert dl.md5sum(archive) == config["md5"][archive.name]
        else:
            with pytest.raises(
                FileNotFoundError, match=r"^MNIST file train-images-idx3-ubyte\.gz not found"
            ):
                dl.load_full_pools("mnist", tmp_path / "full", False, 30)
            assert not archive.exists()
    assert [str(w.message) for w in record] == [message]
    assert record[0].filename == __file__  # the caller's line, not one inside coursekit
