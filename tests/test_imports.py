"""coursekit's modules import each other without cycles, even inside functions.

A cycle (a imports b, b imports a) only works by accident of import order, and
a deferred import inside a function hides one rather than removing it.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "coursekit"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            # `from coursekit import layers` names a module; `from coursekit.x import f` does not
            graph[name] |= {t for t in targets if t in modules and t != name and t != "coursekit"}
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [node, nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, path + [node])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [])):
            return cycle
    return None


def test_the_package_has_no_import_cycle():
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_finds_a_cycle():
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_layer_names_stay_importable_where_they_were():
    from coursekit import base, blocks, conv, layers, normalization, pooling

    assert layers.Layer is base.Layer
    assert issubclass(conv.Conv2d, layers.Layer) and issubclass(pooling.MaxPool2d, base.Layer)
    assert issubclass(normalization.BatchNorm2d, base.Layer)
    assert issubclass(blocks.ResidualBlock, layers.Residual)


def test_data_names_stay_importable_from_datasets():
    """datasets.py was split by concept; the notebooks still import every name from it."""
    from coursekit import datasets, download, loaders, shipped, splits, standardization

    homes = {
        download: ["DownloadError", "ChecksumError", "download_and_verify", "md5sum"],
        shipped: ["data_dir", "load_digits", "list_sample_images", "load_sample_image"],
        splits: ["Splits", "DIGIT_CLASSES", "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES"],
        standardization: ["normalization_stats", "normalize"],
        loaders: ["ImageTensorDataset", "check_images_and_labels", "make_loaders", "as_numpy"],
    }
    for module, names in homes.items():
        for name in names:
            assert getattr(datasets, name) is getattr(module, name), name
    assert datasets.download_dataset is download.download_dataset
    assert set(datasets.__all__) <= set(dir(datasets))
