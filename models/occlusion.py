"""The champion's trees walked in C: boosted trees' predictions, and the explanations' occluded
predictions of boosted trees and forests in one walk per tree. scikit-learn's answers to the bit.

**Occlusion.** An explanation occludes one sensor at a time
(:meth:`models.predictor.RulRiskModel.occluded`), so a row explained over 16 sensors costs 16 more
predicts of the whole model. An occluded row follows the original row's path down a tree until the
first node that tests one of the occluded sensor's features *and* sends the healthy value the other
way; only from there does its walk differ. Where no node on the path flips, the occluded prediction
is the tree's prediction for the row itself. So each tree is walked once for the row, and for each
sensor at most once more from the node where it flips. Measured, one thread:
- the pump model the gate picks on the end-to-end bench (``ExtraTreesRegressor``, 60 trees, 46 levels
  deep, 6 sensors; more than half of its readings are explained there): 12 µs a row against 32 through
  scikit-learn; 43 % of the nodes the 7 full walks visit;
- boosted trees fitted on 30 FD001 engines (``HistGradientBoostingRegressor``, 600 trees of 15
  leaves, 316 features, 16 sensors): 51 µs a row, the time of 8 of this module's predicts, against
  138-427 µs for the 16 occluded copies of the row through that predict (building them included).

**Boosted trees' predict.** scikit-learn's histogram gradient boosting walks all rows of a call one
tree at a time through 56-byte nodes, rows of 466 float64 apart: 31-45 µs a row on the FD001
champion and the pump fleet's boosted trees (600 trees each, one thread). ``boosted_predict`` walks
64 rows at a time, 16 side by side without a branch per node (each tree's walk is padded to its
depth, a leaf steps onto itself), through 24-byte nodes whose children sit together; rows without
NaN (all the scoring job's: it scores finite features only) take one comparison a step. Measured in
one process, the step's calls of 562 rows, one thread, three rounds: FD001 champion (466 features)
5.8-6.1 µs a row against 16.7-20.9 for tl2cgen (treelite's compiler to C, which compiled these
trees until 5 Dec 2026); pump (186 features) 5.9-6.7 against 6.7-7.8. tl2cgen also agreed within
1e-9 rather than to the bit, took 4-15 s of gcc per model, and read a float64 whose low 32 bits
are all ones as missing. This library is one small source for every model: built once per machine
(0.2 s), not per model.

**To the bit.** A forest's rows are cast to float32 as scikit-learn casts them; boosted trees compare
float64 as given (NaN and ±inf included). ``x <= threshold`` goes left, NaN goes where
``missing_go_to_left`` says (``_tree.pyx``, ``_predictor.pyx``); the leaf values are added in the
trees' order, from 0 then divided by the number of trees for a forest (``ForestRegressor.predict``,
single-threaded: with more threads scikit-learn adds the trees in the order they finish and differs
from itself by ulps), from the baseline for boosted trees (``_raw_predict``; only losses whose link is
the identity, so the raw sum is the prediction). :func:`occluding` checks that on probe rows (split
thresholds and one ulp either side, NaN and ±inf for boosted trees) before it hands out a predictor,
and gives None (the caller then uses scikit-learn) for anything else: another family, categorical
splits, multi-output forests, no C compiler, a failed build, any difference.

Alternatives measured for the forest, same pump model and 60,000 feature rows, one thread:
scikit-learn 4.8 µs a row; tl2cgen 12.9 µs a row after a 105 s build; onnxruntime 3.3 µs a row in
float32 only, 6e-5 cycles off. None of them can skip the sensors that do not flip, which is where
the saving is. A forest's own ``predict`` stays scikit-learn's: a plain C walk was no faster.
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

#define NEXT_NODE(n, v) \
    (isnan(v) ? ((n)->missing_left ? (n)->left : (n)->right) \
              : ((double)(v) <= (n)->threshold ? (n)->left : (n)->right))

/* acc[g * n_rows + i] += each tree's leaf value for row i with every feature of group g set to
   ref, tree after tree (scikit-learn's order of the sum); a feature whose group_of is negative
   is never occluded. Tree-major, as scikit-learn walks: a tree's nodes stay in cache over the rows.
   Scratch: path (max_depth + 1), flipped (n_groups). One body, two row types: a forest compares
   float32 features (scikit-learn casts them), boosted trees float64. */
#define OCCLUDED(NAME, T)                                                                          \
void NAME(int64_t n_rows, int64_t n_features, const T *x, const T *ref, const int32_t *group_of,   \
          int64_t n_groups, int64_t n_trees, const int64_t *root, const Node *nodes, int32_t *path, \
          uint8_t *flipped, double *acc) {                                                         \
    for (int64_t t = 0; t < n_trees; t++) {                                                        \
        const Node *tree = nodes + root[t];                                                        \
        for (int64_t i = 0; i < n_rows; i++) {                                                     \
            const T *row = x + i * n_features;                                                     \
            int32_t node = 0, depth = 0;                                                           \
            while (tree[node].left != -1) {                                                        \
                path[depth++] = node;                                                              \
                node = NEXT_NODE(tree + node, row[tree[node].feature]);                            \
            }                                                                                      \
            const double own = tree[node].value;                                                   \
            for (int64_t g = 0; g < n_groups; g++) flipped[g] = 0;                                 \
            for (int32_t k = 0; k < depth; k++) {                                                  \
                const Node *at = tree + path[k];                                                   \
                const int32_t g = group_of[at->feature];                                           \
                if (g < 0 || flipped[g]) continue;                                                 \
                const int32_t other = NEXT_NODE(at, ref[at->feature]);                             \
                if (other == (k + 1 < depth ? path[k + 1] : node)) continue;                       \
                flipped[g] = 1;                                                                    \
                int32_t walk = other;                                                              \
                while (tree[walk].left != -1) {                                                    \
                    const int32_t f = tree[walk].feature;                                          \
                    walk = NEXT_NODE(tree + walk, group_of[f] == g ? ref[f] : row[f]);             \
                }                                                                                  \
                acc[g * n_rows + i] += tree[walk].value;                                           \
            }                                                                                      \
            for (int64_t g = 0; g < n_groups; g++)                                                 \
                if (!flipped[g]) acc[g * n_rows + i] += own;                                       \
        }                                                                                          \
    }                                                                                              \
}

OCCLUDED(occluded_forest, float)
OCCLUDED(occluded_boosted, double)

typedef struct {  /* numpy: STEP_DTYPE. A node's children are at left and left + 1; a leaf is its
                     own left child, with an infinite threshold and missing values sent left */
    double threshold;
    int32_t feature;
    int32_t left;
    int32_t missing_right;  /* 1: a missing value goes right */
    int32_t pad;
} Step;

/* One step of lane r: x > threshold goes right (the same side as scikit-learn's x <= threshold
   going left, ±inf included); NaN compares false, so it goes left unless missing_right says so. */
#define STEP_NAN(r) { const Step *s = tree + at##r; const double v = row##r[s->feature]; \
                      at##r = s->left + ((v > s->threshold) | ((v != v) & s->missing_right)); }
#define STEP_FINITE(r) { const Step *s = tree + at##r; \
                         at##r = s->left + (row##r[s->feature] > s->threshold); }
#define LANES(M) M(0) M(1) M(2) M(3) M(4) M(5) M(6) M(7) M(8) M(9) M(10) M(11) M(12) M(13) M(14) M(15)
#define ROW(r) const double *row##r = x + (i + r) * n_features; int32_t at##r = 0;
#define ADD(r) acc[i + r] += value[at##r];

/* acc[i] += each tree's leaf value for row i, tree after tree (acc starts at the baseline, as in
   scikit-learn's _raw_predict). Every walk of a tree takes depth[t] steps (a leaf steps onto
   itself), so 16 rows walk side by side without a branch per node, their loads overlapping. The
   _finite variant is for rows without NaN: one comparison a step. */
#define BOOSTED(NAME, STEP)                                                                        \
void NAME(int64_t n_rows, int64_t n_features, const double *x, int64_t n_trees,                    \
          const int64_t *root, const int32_t *depth, const Step *steps, const double *values,      \
          double *acc) {                                                                           \
    for (int64_t t = 0; t < n_trees; t++) {                                                        \
        const Step *tree = steps + root[t];                                                        \
        const double *value = values + root[t];                                                    \
        const int32_t d = depth[t];                                                                \
        int64_t i = 0;                                                                             \
        for (; i + 16 <= n_rows; i += 16) {                                                        \
            LANES(ROW)                                                                             \
            for (int32_t k = 0; k < d; k++) { LANES(STEP) }                                        \
            LANES(ADD)                                                                             \
        }                                                                                          \
        for (; i < n_rows; i++) {                                                                  \
            ROW(0)                                                                                 \
            for (int32_t k = 0; k < d; k++) STEP(0)                                                \
            ADD(0)                                                                                 \
        }                                                                                          \
    }                                                                                              \
}

BOOSTED(boosted_predict, STEP_NAN)
BOOSTED(boosted_predict_finite, STEP_FINITE)
"""

NODE_DTYPE = np.dtype(
    [("threshold", "f8"), ("value", "f8"), ("left", "i4"), ("right", "i4"), ("feature", "i4"),
     ("missing_left", "u1")],
    align=True,
)  # fmt: skip
"""The C ``Node``: 32 bytes, two to a cache line (scikit-learn's own node is 64)."""

STEP_DTYPE = np.dtype(
    [("threshold", "f8"), ("feature", "i4"), ("left", "i4"), ("missing_right", "i4"), ("pad", "i4")]
)
"""The C ``Step`` of :func:`boosted_steps`: 24 bytes, the leaf values apart."""

PREDICT_ROWS = 64
"""Rows per ``boosted_predict`` call: walked tree after tree, they stay in the core's cache (64 rows
of the FD001 champion's 466 features are 240 KB). Measured on that model (600 trees), one thread,
with 8 rows side by side: 12.1 µs a row at 64, 12.5 at 32, 15.6 at 16, 12.2 at 256."""

_I64 = np.ctypeslib.ndpointer(dtype=np.int64, flags="C_CONTIGUOUS")
_I32 = np.ctypeslib.ndpointer(dtype=np.int32, flags="C_CONTIGUOUS")
_F64 = np.ctypeslib.ndpointer(dtype=np.float64, flags="C_CONTIGUOUS")
_F32 = np.ctypeslib.ndpointer(dtype=np.float32, flags="C_CONTIGUOUS")
_U8 = np.ctypeslib.ndpointer(dtype=np.uint8, flags="C_CONTIGUOUS")
_NODES = np.ctypeslib.ndpointer(dtype=NODE_DTYPE, flags="C_CONTIGUOUS")
_STEPS = np.ctypeslib.ndpointer(dtype=STEP_DTYPE, flags="C_CONTIGUOUS")


def _occluded_args(rows: Any) -> list[Any]:
    return [ctypes.c_int64, ctypes.c_int64, rows, rows, _I32, ctypes.c_int64, ctypes.c_int64, _I64, _NODES,
            _I32, _U8, _F64]  # fmt: skip


_PREDICT_ARGS: list[Any] = [ctypes.c_int64, ctypes.c_int64, _F64, ctypes.c_int64, _I64, _I32, _STEPS, _F64,
                            _F64]  # fmt: skip


@dataclass(frozen=True)
class Nodes:
    """Every tree of an ensemble in one array of :data:`NODE_DTYPE` (indices within each tree). Pure."""

    root: np.ndarray
    nodes: np.ndarray
    max_depth: int
    n_features: int


@dataclass(frozen=True)
class Steps:
    """Boosted trees laid out for ``boosted_predict`` (:data:`STEP_DTYPE`, children side by side). Pure."""

    root: np.ndarray
    depth: np.ndarray
    steps: np.ndarray
    values: np.ndarray


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


def _boosted_trees(boosted: Any) -> list[np.ndarray]:
    """scikit-learn's own nodes of each tree of a fitted single-output HGB regressor, in order."""
    return [per_iteration[0].nodes for per_iteration in boosted._predictors]


def boosted_nodes(boosted: Any) -> Nodes:
    """The nodes of a fitted ``HistGradientBoostingRegressor``, in its trees' order."""
    roots, parts, depth = [], [], 0
    at = 0
    for tree in _boosted_trees(boosted):
        depth = max(depth, int(tree["depth"].max()))
        leaf = tree["is_leaf"].astype(bool)
        part = np.zeros(len(tree), dtype=NODE_DTYPE)
        part["threshold"] = tree["num_threshold"]
        part["value"] = tree["value"]
        part["left"] = np.where(leaf, -1, tree["left"])
        part["right"] = np.where(leaf, -1, tree["right"])
        part["feature"] = np.where(leaf, 0, tree["feature_idx"])
        part["missing_left"] = tree["missing_go_to_left"]
        roots.append(at)
        parts.append(part)
        at += len(tree)
    return Nodes(np.asarray(roots, dtype=np.int64), np.concatenate(parts), depth, int(boosted.n_features_in_))


def boosted_steps(boosted: Any) -> Steps:
    """A fitted ``HistGradientBoostingRegressor``'s trees for ``boosted_predict``: each tree's nodes
    renumbered breadth first, so that a node's children sit side by side (``left``, ``left + 1``)."""
    roots, parts, values, depths = [], [], [], []
    at = 0
    for tree in _boosted_trees(boosted):
        order, number = [0], {0: 0}
        for node in order:  # grows while it is read: breadth first
            if not tree["is_leaf"][node]:
                for child in (int(tree["left"][node]), int(tree["right"][node])):
                    number[child] = len(order)
                    order.append(child)
        part = np.zeros(len(order), dtype=STEP_DTYPE)
        old = np.asarray(order)
        leaf = tree["is_leaf"][old].astype(bool)
        part["threshold"] = np.where(leaf, np.inf, tree["num_threshold"][old])
        part["feature"] = np.where(leaf, 0, tree["feature_idx"][old])
        part["left"] = [i if is_leaf else number[int(tree["left"][o])]
                        for i, (o, is_leaf) in enumerate(zip(order, leaf.tolist(), strict=True))]  # fmt: skip
        part["missing_right"] = np.where(leaf, 0, 1 - tree["missing_go_to_left"][old])
        roots.append(at)
        parts.append(part)
        values.append(tree["value"][old])
        depths.append(int(tree["depth"][old].max()))
        at += len(order)
    return Steps(
        np.asarray(roots, dtype=np.int64), np.asarray(depths, dtype=np.int32), np.concatenate(parts),
        np.ascontiguousarray(np.concatenate(values), dtype=np.float64),
    )  # fmt: skip


def _group_of(n_features: int, groups: list[list[int]]) -> np.ndarray:
    group_of = np.full(n_features, -1, dtype=np.int32)
    for g, columns in enumerate(groups):
        group_of[np.asarray(columns, dtype=np.int64)] = g
    return group_of


def _walk_occluded(function: Any, nodes: Nodes, x: np.ndarray, ref: np.ndarray, groups: list[list[int]],
                   start: float) -> np.ndarray:  # fmt: skip
    """(groups, rows) sums of the trees' leaf values for the occluded rows, each starting at ``start``."""
    group_of = _group_of(nodes.n_features, groups)
    out = np.empty((len(groups), len(x)), dtype=np.float64)
    for first in range(0, len(x), CHUNK_ROWS):
        chunk = x[first : first + CHUNK_ROWS]
        acc = np.full(len(groups) * len(chunk), start, dtype=np.float64)
        if len(acc):
            function(
                len(chunk), nodes.n_features, chunk, ref, group_of, len(groups), len(nodes.root),
                nodes.root, nodes.nodes, np.empty(nodes.max_depth + 1, np.int32),
                np.empty(len(groups), np.uint8), acc,
            )  # fmt: skip
        out[:, first : first + len(chunk)] = acc.reshape(len(groups), len(chunk))
    return out


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
        function.argtypes, function.restype = _occluded_args(_F32), None
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
        x, ref = _checked(values, reference, nodes.n_features)
        with np.errstate(over="ignore"):  # too large for float32 is inf: refused just below
            x32, ref32 = (
                np.ascontiguousarray(x, dtype=np.float32),
                np.ascontiguousarray(ref, dtype=np.float32),
            )
        if not (np.isfinite(x32).all() and np.isfinite(ref32).all()):
            raise ValueError("a value is not finite as float32")
        # as ForestRegressor.predict: the sum in the trees' order, then the mean
        return (_walk_occluded(self._function, nodes, x32, ref32, groups, 0.0) / len(nodes.root)).reshape(-1)


@dataclass(frozen=True)
class WalkedBoosting:
    """A ``HistGradientBoostingRegressor`` whose :meth:`predict` and :meth:`predict_occluded` walk its
    trees in C (the library at ``library``); pickles as the regressor and the library's path."""

    library: Path
    regressor: Any
    nodes: Nodes = field(repr=False, compare=False)
    steps: Steps = field(repr=False, compare=False)
    baseline: float = field(repr=False, compare=False)
    _occluded: Any = field(repr=False, compare=False)
    _predict: Any = field(repr=False, compare=False)  # rows that may hold NaN
    _predict_finite: Any = field(repr=False, compare=False)  # rows without NaN: one comparison a step

    @classmethod
    def open(cls, library: Path, regressor: Any) -> WalkedBoosting:
        loaded = ctypes.CDLL(str(library))
        occluded = loaded.occluded_boosted
        occluded.argtypes, occluded.restype = _occluded_args(_F64), None
        predict, finite = loaded.boosted_predict, loaded.boosted_predict_finite
        for function in (predict, finite):
            function.argtypes, function.restype = _PREDICT_ARGS, None
        baseline = float(np.asarray(regressor._baseline_prediction, dtype=np.float64).reshape(-1)[0])
        return cls(library, regressor, boosted_nodes(regressor), boosted_steps(regressor), baseline,
                   occluded, predict, finite)  # fmt: skip

    def __reduce__(self) -> tuple[Any, tuple[Path, Any]]:
        return (WalkedBoosting.open, (self.library, self.regressor))

    def predict(self, values: Any) -> np.ndarray:
        """``regressor.predict(values)`` to the bit; what is not a 2-D float64 array of the regressor's
        width goes to the regressor itself (its answer, or its error)."""
        if not (
            isinstance(values, np.ndarray)
            and values.dtype == np.float64
            and values.ndim == 2
            and values.shape[1] == self.nodes.n_features
            and len(values)
        ):
            return np.asarray(self.regressor.predict(values), dtype=np.float64)
        rows = np.ascontiguousarray(values)
        steps = self.steps
        out = np.full(len(rows), self.baseline, dtype=np.float64)
        for first in range(0, len(rows), PREDICT_ROWS):
            chunk = rows[first : first + PREDICT_ROWS]
            part = out[first : first + PREDICT_ROWS]  # a view: the walk adds into it
            walk = self._predict if np.isnan(chunk).any() else self._predict_finite
            walk(len(chunk), rows.shape[1], chunk, len(steps.root), steps.root, steps.depth, steps.steps,
                 steps.values, part)  # fmt: skip
        return out

    def predict_occluded(
        self, values: np.ndarray, reference: np.ndarray, groups: list[list[int]]
    ) -> np.ndarray:
        """``regressor.predict`` of every row with each group's features set to ``reference``,
        group-major, as :meth:`OccludingForest.predict_occluded` (float64, NaN and ±inf as the
        regressor takes them).

        Raises:
            ValueError: rows or a reference of the wrong width.
        """
        x, ref = _checked(values, reference, self.nodes.n_features)
        return _walk_occluded(self._occluded, self.nodes, x, ref, groups, self.baseline).reshape(-1)


def _checked(values: Any, reference: Any, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(values, dtype=np.float64)
    ref = np.ascontiguousarray(reference, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != n_features or ref.shape != (n_features,):
        raise ValueError(f"rows of {n_features} features and a reference of as many expected")
    return x, ref


def unsupported(regressor: Any) -> str | None:
    """Why ``regressor`` gets no walked predictor, or None when it does. Pure."""
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor

    if isinstance(regressor, ExtraTreesRegressor | RandomForestRegressor):
        return "a forest of several outputs" if getattr(regressor, "n_outputs_", 1) != 1 else None
    if not isinstance(regressor, HistGradientBoostingRegressor):
        return f"{type(regressor).__name__} is neither a scikit-learn forest nor boosted trees"
    if getattr(regressor, "is_categorical_", None) is not None:
        return "categorical splits are not walked here"
    if type(regressor._loss.link).__name__ != "IdentityLink":  # the raw sum is the prediction
        return f"the loss {regressor.loss!r} maps its sums through a link"
    return None


def library_name(compiler: str) -> str:
    """The cache's file name: a hash of the source and everything the build depends on."""
    build = "|".join((C_SOURCE, compiler, *CFLAGS, platform.machine()))
    return f"occlusion-{hashlib.sha256(build.encode()).hexdigest()[:32]}.so"


def probe_rows(regressor: Any, n_rows: int = 48) -> tuple[np.ndarray, np.ndarray]:
    """Rows and a reference on the trees' split thresholds, one ulp either side. Pure.

    Row ``r`` gives each split feature one of its finite thresholds (cycling), nudged by ``r % 3``
    (on, below, above); the reference is the last of them, so rows and reference fall on both sides
    of many splits. For boosted trees (which take any float64) every fourth row has NaN in every
    other feature and every fifth ±inf in every third.
    """
    boosted = not hasattr(regressor, "estimators_")
    nodes = boosted_nodes(regressor) if boosted else forest_nodes(regressor)
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
        if boosted and r % 4 == 3:
            rows[r, r % 2 :: 2] = np.nan
        if boosted and r % 5 == 4:
            rows[r, r % 3 :: 3] = np.inf if r % 2 else -np.inf
    return rows, reference


def occluding(
    regressor: Any, cache_dir: Path, groups: list[list[int]]
) -> OccludingForest | WalkedBoosting | None:
    """The walked predictor of ``regressor`` (:class:`OccludingForest` for a forest,
    :class:`WalkedBoosting` for boosted trees) when it agrees with scikit-learn to the bit on
    :func:`probe_rows` (its predictions, and its occluded ones for ``groups``), else None (logged
    once per reason)."""
    reason = unsupported(regressor)
    if reason is not None:
        return _none(reason)
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    if compiler is None:
        return _none(f"no C compiler found ({', '.join(COMPILERS)})")
    forest = hasattr(regressor, "estimators_")
    try:
        library = built_once(
            Path(cache_dir) / library_name(compiler), lambda target: _build(compiler, target)
        )
        walked = (OccludingForest if forest else WalkedBoosting).open(library, regressor)
        rows, reference = probe_rows(regressor)
        single = _single_threaded(regressor)
        # a forest's own predict is scikit-learn's call itself: only its occluded rows are walked.
        # Boosted trees walk rows with NaN one way and rows without another: both are checked.
        got: list[np.ndarray] = []
        want: list[np.ndarray] = []
        if not forest:
            for probe in (rows, rows[~np.isnan(rows).any(axis=1)]):
                got.append(walked.predict(probe))
                want.append(single.predict(probe))
        got.append(walked.predict_occluded(rows, reference, groups))
        want.extend(single.predict(_occluded(rows, reference, c)) for c in groups)
    except Exception as exc:  # the compiler's, ctypes' or the file system's: all mean "not used"
        return _none(f"building it failed: {type(exc).__name__}: {str(exc)[:300]}")
    got_all, want_all = np.concatenate(got), np.concatenate(want)
    if not np.array_equal(got_all, want_all, equal_nan=True):
        off = np.abs(got_all - want_all)[got_all != want_all]  # NaN where only one side is NaN
        return _none(f"its predictions differ from scikit-learn's by up to {np.max(off):.3g}")
    return walked


def _single_threaded(regressor: Any) -> Any:
    """A forest predicting on one thread (a shallow copy): with more, scikit-learn adds the trees'
    predictions in whatever order its threads finish, and its own answers differ by ulps. Boosted
    trees sum each row's trees in order whatever the threads: they are returned as they are."""
    if not hasattr(regressor, "n_jobs"):
        return regressor
    single = copy.copy(regressor)
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


def _none(reason: str) -> OccludingForest | WalkedBoosting | None:
    if reason not in _LOGGED:
        _LOGGED.add(reason)
        log.warning("predicting and explaining with scikit-learn's own walk: %s", reason)
    return None
