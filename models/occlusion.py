"""A forest's occlusion predictions in one walk per tree: the explanations' predicts, shared.

Why: an explanation occludes one sensor at a time (:meth:`models.predictor.RulRiskModel.occluded`),
so a row explained over 6 sensors costs 6 more predicts of the whole forest. On the end-to-end bench
(the pump model the gate picks there is ``ExtraTreesRegressor``: 60 trees, 46 levels deep) more than
half of the readings are at or above the alert threshold and are explained, and scikit-learn's
forest predicts were 39 % of the scoring workers' CPU (py-spy, ``bench.chain``, 5 Dec 2026).

An occluded row follows the original row's path down a tree until the first node that tests one
of the occluded sensor's features *and* sends the healthy value the other way; only from there
does its walk differ. Where no node on the path flips, the occluded prediction is the tree's
prediction for the row itself. So each tree is walked once for the row, and for each sensor at
most once more from the node where it flips. Measured on 300 readings of that pump model
(``risk >= 0.5``): 43 % of the nodes the 7 full walks visit (row + 6 sensors).

The answer is scikit-learn's to the bit (single-threaded, as the scoring workers run it: with more
threads scikit-learn sums the trees in the order they finish, and differs from itself by ulps):
the row is cast to float32 as scikit-learn casts it,
``x <= threshold`` goes left and NaN goes where ``missing_go_to_left`` says (``_tree.pyx``), and
each tree's leaf value is added in the forest's order and divided by the number of trees as
``ForestRegressor.predict`` does. :func:`occluding` checks that on probe rows before it hands out
a predictor, and gives None (the caller then predicts the occluded rows as before) for anything
else: another family, multi-output forests, no C compiler, a failed build, any difference.

Alternatives measured on the same pump model and 60,000 feature rows, one thread, quiet machine:
scikit-learn 4.8 µs a row; the forest compiled by tl2cgen (``models.compiled``'s path) 12.9 µs a
row after a 105 s build; onnxruntime 3.3 µs a row in float32 only, 6e-5 cycles off. None of them
can skip the sensors that do not flip, which is where the saving is.
"""

from __future__ import annotations

import copy
import ctypes
import hashlib
import logging
import platform
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.build_cache import built_once

log = logging.getLogger(__name__)

COMPILERS = ("gcc", "clang", "cc")
CFLAGS = ("-O2", "-shared", "-fPIC", "-std=c99")  # no -ffast-math: the sums must stay in order
CHUNK_ROWS = 2048  # rows per call: walked tree after tree, they stay in cache (1 MB at 126 features)
_LOGGED: set[str] = set()

C_SOURCE = r"""
#include <stdint.h>
#include <math.h>

typedef struct {  /* numpy: NODE_DTYPE */
    double threshold;
    double value;
    int32_t left;  /* -1: a leaf */
    int32_t right;
    int32_t feature;
    uint8_t missing_left;
} Node;

static inline int32_t next_node(const Node *n, float value) {
    if (isnan(value)) return n->missing_left ? n->left : n->right;
    return ((double)value <= n->threshold) ? n->left : n->right;
}

/* acc[g * n_rows + i] += each tree's leaf value for row i with every feature of group g set to
   ref32, tree after tree (scikit-learn's order of the sum); a feature whose group_of is negative
   is never occluded. Tree-major, as scikit-learn walks: a tree's nodes stay in cache over the rows.
   Scratch: path (max_depth + 1), flipped (n_groups). */
void occluded_forest(int64_t n_rows, int64_t n_features, const float *x32, const float *ref32,
                     const int32_t *group_of, int64_t n_groups, int64_t n_trees, const int64_t *root,
                     const Node *nodes, int32_t *path, uint8_t *flipped, double *acc) {
    for (int64_t t = 0; t < n_trees; t++) {
        const Node *tree = nodes + root[t];
        for (int64_t i = 0; i < n_rows; i++) {
            const float *row = x32 + i * n_features;
            int32_t node = 0, depth = 0;
            while (tree[node].left != -1) {
                path[depth++] = node;
                node = next_node(tree + node, row[tree[node].feature]);
            }
            const double own = tree[node].value;
            for (int64_t g = 0; g < n_groups; g++) flipped[g] = 0;
            for (int32_t k = 0; k < depth; k++) {
                const Node *at = tree + path[k];
                const int32_t g = group_of[at->feature];
                if (g < 0 || flipped[g]) continue;
                const int32_t other = next_node(at, ref32[at->feature]);
                if (other == (k + 1 < depth ? path[k + 1] : node)) continue;
                flipped[g] = 1;
                int32_t walk = other;
                while (tree[walk].left != -1) {
                    const int32_t f = tree[walk].feature;
                    walk = next_node(tree + walk, group_of[f] == g ? ref32[f] : row[f]);
                }
                acc[g * n_rows + i] += tree[walk].value;
            }
            for (int64_t g = 0; g < n_groups; g++)
                if (!flipped[g]) acc[g * n_rows + i] += own;
        }
    }
}
"""

NODE_DTYPE = np.dtype(
    [("threshold", "f8"), ("value", "f8"), ("left", "i4"), ("right", "i4"), ("feature", "i4"),
     ("missing_left", "u1")],
    align=True,
)  # fmt: skip
"""The C ``Node``: 32 bytes, two to a cache line (scikit-learn's own node is 64)."""

_I64 = np.ctypeslib.ndpointer(dtype=np.int64, flags="C_CONTIGUOUS")
_I32 = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
_F64 = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_F32 = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
_U8 = np.ctypeslib.ndpointer(dtype=np.uint8, flags="C_CONTIGUOUS")
_NODES = np.ctypeslib.ndpointer(dtype=NODE_DTYPE, flags="C_CONTIGUOUS")
_ARGTYPES: list[Any] = [ctypes.c_int64, ctypes.c_int64, _F32, _F32, _I32, ctypes.c_int64,
                        ctypes.c_int64, _I64, _NODES, _I32, _U8, _F64]  # fmt: skip


@dataclass(frozen=True)
class Nodes:
    """Every tree of a forest in one array of :data:`NODE_DTYPE` (indices within each tree). Pure."""

    root: np.ndarray
    nodes: np.ndarray
    max_depth: int
    n_features: int


def forest_nodes(forest: Any) -> Nodes:
    """The nodes of a fitted single-output scikit-learn forest regressor, in its trees' order."""
    roots, parts = [], []
    at = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        part = np.zeros(tree.node_count, dtype=NODE_DTYPE)
        leaf = np.asarray(tree.children_left) == -1
        part["threshold"] = tree.threshold
        part["value"] = np.asarray(tree.value, dtype=np.float64).reshape(tree.node_count, -1)[:, 0]
        part["left"] = tree.children_left
        part["right"] = tree.children_right
        part["feature"] = np.where(leaf, 0, tree.feature)
        part["missing_left"] = tree.missing_go_to_left
        roots.append(at)
        parts.append(part)
        at += tree.node_count
    return Nodes(
        np.asarray(roots, dtype=np.int64), np.concatenate(parts),
        max(int(e.tree_.max_depth) for e in forest.estimators_), int(forest.n_features_in_),
    )  # fmt: skip


@dataclass(frozen=True)
class OccludingForest:
    """``forest`` with :meth:`predict_occluded`; pickles as the forest and the library's path."""

    library: Path
    forest: Any
    nodes: Nodes = field(repr=False, compare=False)
    _function: Any = field(repr=False, compare=False)

    @classmethod
    def open(cls, library: Path, forest: Any) -> OccludingForest:
        function = ctypes.CDLL(str(library)).occluded_forest
        function.argtypes, function.restype = _ARGTYPES, None
        return cls(library, forest, forest_nodes(forest), function)

    def __reduce__(self) -> tuple[Any, tuple[Path, Any]]:
        return (OccludingForest.open, (self.library, self.forest))

    def predict(self, values: Any) -> np.ndarray:
        """The forest's own predictions."""
        return np.asarray(self.forest.predict(values), dtype=np.float64)

    def predict_occluded(
        self, values: np.ndarray, reference: np.ndarray, groups: list[list[int]]
    ) -> np.ndarray:
        """``forest.predict`` of every row with each group's features set to ``reference``, group-major
        (``len(groups) * len(values)``): what ``predict(RulRiskModel.occluded(values))`` gives.

        Raises:
            ValueError: rows or reference the forest would refuse (not finite as float32, wrong width);
                the caller then predicts the occluded rows itself and gets the forest's own error.
        """
        nodes = self.nodes
        x = np.asarray(values, dtype=np.float64)
        ref = np.asarray(reference, dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != nodes.n_features or ref.shape != (nodes.n_features,):
            raise ValueError(f"rows of {nodes.n_features} features and a reference of as many expected")
        with np.errstate(over="ignore"):  # too large for float32 is inf: refused just below
            x32, ref32 = (
                np.ascontiguousarray(x, dtype=np.float32),
                np.ascontiguousarray(ref, dtype=np.float32),
            )
        if not (np.isfinite(x32).all() and np.isfinite(ref32).all()):
            raise ValueError("a value is not finite as float32")
        group_of = np.full(nodes.n_features, -1, dtype=np.int32)
        for g, columns in enumerate(groups):
            group_of[np.asarray(columns, dtype=np.int64)] = g
        out = np.empty((len(groups), len(x)), dtype=np.float64)
        for first in range(0, len(x), CHUNK_ROWS):
            chunk = x32[first : first + CHUNK_ROWS]
            acc = np.zeros(len(groups) * len(chunk), dtype=np.float64)
            if len(acc):
                self._function(
                    len(chunk), nodes.n_features, chunk, ref32, group_of, len(groups), len(nodes.root),
                    nodes.root, nodes.nodes, np.empty(nodes.max_depth + 1, np.int32),
                    np.empty(len(groups), np.uint8), acc,
                )  # fmt: skip
            # as ForestRegressor.predict: the sum in the trees' order, then the mean
            out[:, first : first + len(chunk)] = acc.reshape(len(groups), len(chunk)) / len(nodes.root)
        return out.reshape(-1)


def unsupported(forest: Any) -> str | None:
    """Why ``forest`` gets no occluding predictor, or None when it does. Pure."""
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestRegressor

    if not isinstance(forest, ExtraTreesRegressor | RandomForestRegressor):
        return f"{type(forest).__name__} is not a scikit-learn forest regressor"
    if getattr(forest, "n_outputs_", 1) != 1:
        return "a forest of several outputs"
    return None


def library_name(compiler: str) -> str:
    """The cache's file name: a hash of the source and everything the build depends on."""
    build = "|".join((C_SOURCE, compiler, *CFLAGS, platform.machine()))
    return f"occlusion-{hashlib.sha256(build.encode()).hexdigest()[:32]}.so"


def probe_rows(forest: Any, n_rows: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Rows and a reference on the forest's split thresholds, one ulp either side. Pure.

    Row ``r`` gives each split feature one of its finite thresholds (cycling), nudged by ``r % 3``
    (on, below, above); the reference is the last of them, so rows and reference fall on both sides
    of many splits.
    """
    nodes = forest_nodes(forest)
    inner = nodes.nodes[nodes.nodes["left"] != -1]
    thresholds: dict[int, list[float]] = {}
    for f, t in zip(inner["feature"].tolist(), inner["threshold"].tolist(), strict=True):
        if not np.isfinite(t):  # a split of missing values from the rest: NaN is no probe here
            continue
        thresholds.setdefault(int(f), []).append(float(t))
    rows = np.zeros((n_rows, nodes.n_features))
    reference = np.zeros(nodes.n_features)
    for f, values in thresholds.items():
        reference[f] = values[-1]
        for r in range(n_rows):
            rows[r, f] = values[r % len(values)]
    for r in range(n_rows):
        if r % 3:
            rows[r] = np.nextafter(rows[r], -np.inf if r % 3 == 1 else np.inf)
    return rows, reference


def occluding(forest: Any, cache_dir: Path, groups: list[list[int]]) -> OccludingForest | None:
    """An :class:`OccludingForest` for ``forest`` when it agrees with scikit-learn to the bit on
    :func:`probe_rows` (occluding ``groups``), else None (logged once per reason)."""
    reason = unsupported(forest)
    if reason is not None:
        return _none(reason)
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    if compiler is None:
        return _none(f"no C compiler found ({', '.join(COMPILERS)})")
    try:
        library = built_once(
            Path(cache_dir) / library_name(compiler), lambda target: _build(compiler, target)
        )
        predictor = OccludingForest.open(library, forest)
        rows, reference = probe_rows(forest)
        got = predictor.predict_occluded(rows, reference, groups)
        single = _single_threaded(forest)
        want = np.concatenate([single.predict(_occluded(rows, reference, columns)) for columns in groups])
    except Exception as exc:  # the compiler's, ctypes' or the file system's: all mean "not used"
        return _none(f"building it failed: {type(exc).__name__}: {str(exc)[:300]}")
    if not np.array_equal(got, want):
        return _none(f"its predictions differ from the forest's by up to {np.max(np.abs(got - want)):.3g}")
    return predictor


def _single_threaded(forest: Any) -> Any:
    """The forest predicting on one thread (a shallow copy): with more, scikit-learn adds the trees'
    predictions in whatever order its threads finish, and its own answers differ by ulps."""
    single = copy.copy(forest)
    single.n_jobs = 1
    return single


def _occluded(rows: np.ndarray, reference: np.ndarray, columns: list[int]) -> np.ndarray:
    healthy = rows.copy()
    healthy[:, columns] = reference[columns]
    return healthy


def _build(compiler: str, target: Path) -> None:
    source = target.with_suffix(".c")
    source.write_text(C_SOURCE)
    subprocess.run(
        [compiler, *CFLAGS, "-o", str(target), str(source)], check=True, capture_output=True, timeout=120
    )


def _none(reason: str) -> OccludingForest | None:
    if reason not in _LOGGED:
        _LOGGED.add(reason)
        log.warning("explaining with the forest's own predicts: %s", reason)
    return None
