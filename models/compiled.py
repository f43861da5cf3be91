"""The champion's boosted trees compiled to machine code: same predictions, far fewer microseconds.

Why: once the features are vectorised, scikit-learn's ``predict`` is most of the Python CPU per
reading. Measured on the FD001 champion (``HistGradientBoostingRegressor``, 600 trees of 15 leaves,
466 features), one thread, quiet machine, the 13,096 test rows: scikit-learn 19,000 rows/s (52 µs a
row) and 4.0 ms for a call of one row (a Python loop over its 600 trees); treelite's interpreter
(GTIL) no faster; the same trees compiled by tl2cgen (C, gcc ``-O2``) 81,000 rows/s (12.4 µs a row,
this module's guard included) and 42 µs for a call of one row (0.25 ms for 17 rows: 16x); quantized
(``QUANTIZE``) another 2.9x on a slower machine (47.0 → 16.3 µs a row). Predictions
agree to 6e-13 cycles on those rows, on rows at every split threshold (scikit-learn sends
``x <= threshold`` left, so does the C), one ulp either side, ±1e30, ±1e300, ±inf and NaN
(``missing_go_to_left``). Compiling takes 4 s on a quiet machine (10-15 s on a busy one), once per
model and machine: the library is cached on disk by the hash of the trees (treelite's serialised model:
the regressor's pickle is no key, its bytes change with a pickle round trip of what holds it).

One trap, found by those checks: tl2cgen's generated C reads a feature as missing when the low
32 bits of its float64 are all ones (``union Entry { int missing; double fvalue; }`` with
``missing == -1`` as the flag), e.g. ``nextafter(72.0, 0)`` or ``DBL_MAX``, and then sends it the
missing value's way. Such rows are rare (none in the 6.1 million cells of the FD001 test rows) and
go to the regressor itself, so every row still gets scikit-learn's prediction.

Anything else falls back to the regressor itself, logged once with the reason: a family other
than ``HistGradientBoostingRegressor`` (treelite imports no ``VotingRegressor`` or pipeline, and
only this family's agreement is measured), no C compiler, a failed compile, or a library whose
predictions on probe rows differ from the regressor's.
"""

from __future__ import annotations

import hashlib
import logging
import platform
import shutil
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from models.build_cache import built_once

log = logging.getLogger(__name__)

COMPILERS = ("gcc", "clang", "cc")
# -O2, the trees split over 4 C files built by 2 processes: as fast to run as -O3 in one file (all
# within noise, 60,000-86,000 rows/s on a busy machine; -O1 and -O0 slower) and the quickest build
# measured on 2 cores (7.7 s on a busy machine, vs 13-15 s for one file)
OPTIMISE = "-O2"
SOURCE_FILES = 4
BUILD_PROCESSES = 2
# tl2cgen's ``quantize``: each feature value becomes the index of its place among the trees' thresholds
# once per row, and the trees compare small integers. Measured on the FD001 champion (600 trees, 466
# features) on a slow machine, one thread, 22,480 rows of the scoring job's own calls: 47.0 µs a row
# without, 16.3 with (2.9x), the same predictions as without (to 0.0); the build took 6-8 s there
QUANTIZE = 1
TOLERANCE_CYCLES = 1e-9  # how far a compiled prediction may be from the regressor's
_MISSING_FLAG = np.uint32(0xFFFFFFFF)  # tl2cgen's ``missing == -1`` as the low word of a double
_LOGGED: set[str] = set()


@dataclass(frozen=True)
class CompiledRegressor:
    """A regressor's trees as a shared library; ``predict`` gives the regressor's predictions.

    ``regressor`` is kept for what the library cannot take: rows tl2cgen would read as missing
    (see the module docstring), and any input that is not a 2-D float64 array of the regressor's
    width (the regressor then gives its own answer or its own error). Pickles as the library's
    path and the regressor, and reopens the library on unpickling.
    """

    library: Path
    regressor: Any
    n_features: int
    _predictor: Any = field(repr=False, compare=False)

    @classmethod
    def open(cls, library: Path, regressor: Any) -> CompiledRegressor:
        import tl2cgen

        predictor = tl2cgen.Predictor(library, nthread=1)  # the caller's one thread (Spark: a task per core)
        return cls(library, regressor, int(predictor.num_feature), predictor)

    def __reduce__(self) -> tuple[Any, tuple[Path, Any]]:
        return (CompiledRegressor.open, (self.library, self.regressor))

    def predict(self, values: Any) -> np.ndarray:
        """Predictions for rows of features, as ``regressor.predict`` gives them (to 1e-9)."""
        if not (
            isinstance(values, np.ndarray)
            and values.dtype == np.float64
            and values.ndim == 2
            and values.shape[1] == self.n_features
            and len(values)
        ):
            return np.asarray(self.regressor.predict(values), dtype=np.float64)
        import tl2cgen

        rows = np.ascontiguousarray(values)
        out = self._predictor.predict(tl2cgen.DMatrix(rows, dtype="float64"))
        predictions = np.asarray(out, dtype=np.float64).reshape(len(rows), -1)[:, 0].copy()
        read_as_missing = flagged_rows(rows)
        if read_as_missing.any():
            predictions[read_as_missing] = self.regressor.predict(rows[read_as_missing])
        return predictions


def flagged_rows(rows: np.ndarray) -> np.ndarray:
    """Rows (C-contiguous float64, little-endian) with a value tl2cgen would read as missing."""
    low_words = rows.view(np.uint32)[:, 0::2]  # (rows, features): the low half of each double
    return np.asarray((low_words == _MISSING_FLAG).any(axis=1), dtype=bool)


def unsupported(regressor: Any) -> str | None:
    """Why ``regressor`` is not compiled here, or None when it is. Pure."""
    from sklearn.ensemble import HistGradientBoostingRegressor

    if not isinstance(regressor, HistGradientBoostingRegressor):
        return f"{type(regressor).__name__} is not a HistGradientBoostingRegressor"
    if getattr(regressor, "is_categorical_", None) is not None:
        return "categorical splits are not compiled"
    if sys.byteorder != "little":
        return "the missing-value guard assumes a little-endian machine"
    return None


def library_name(trees: bytes) -> str:
    """The cache's file name for serialised trees: their hash and everything the build depends on."""
    parts = (version("treelite"), version("tl2cgen"), OPTIMISE, SOURCE_FILES, QUANTIZE, platform.machine())
    build = "|".join(str(part) for part in parts)
    digest = hashlib.sha256(trees + build.encode()).hexdigest()[:32]
    return f"trees-{digest}.so"


def probe_rows(regressor: Any, n_rows: int = 64) -> np.ndarray:
    """Rows that put features exactly on split thresholds, one ulp either side, and NaN. Pure.

    Row ``r`` gives every split feature one of its thresholds (cycling through them), nudged by
    ``r % 3`` (on, below, above); every fourth row has NaN in every other feature. Reads the fitted
    HGB's trees (``_predictors``, scikit-learn's own layout); built for :func:`compiled`'s check.
    """
    width = int(regressor.n_features_in_)
    thresholds: dict[int, list[float]] = {}
    for per_class in regressor._predictors:
        nodes = per_class[0].nodes
        for feature, threshold in zip(
            nodes["feature_idx"][nodes["is_leaf"] == 0].tolist(),
            nodes["num_threshold"][nodes["is_leaf"] == 0].tolist(),
            strict=True,
        ):
            thresholds.setdefault(int(feature), []).append(float(threshold))
    rows = np.zeros((n_rows, width))
    for r in range(n_rows):
        for feature, values in thresholds.items():
            rows[r, feature] = values[r % len(values)]
        if r % 3:
            rows[r] = np.nextafter(rows[r], -np.inf if r % 3 == 1 else np.inf)
        if r % 4 == 3:
            rows[r, r % 2 :: 2] = np.nan
    return rows


def compiled(regressor: Any, cache_dir: Path) -> Any:
    """``regressor``'s compiled predictor (:class:`CompiledRegressor`), or ``regressor`` itself.

    Builds the library once per distinct regressor into ``cache_dir`` (see :func:`library_name`):
    under an exclusive lock (two Spark Python workers loading the same model build it once), into
    a temporary name renamed into place, so no reader ever opens a half-written library. Before it
    is used, its predictions on :func:`probe_rows` must match the regressor's to
    ``TOLERANCE_CYCLES``. Every way this fails returns ``regressor`` (logged once per reason).
    """
    reason = unsupported(regressor)
    if reason is not None:
        return _fallback(regressor, reason)
    compiler = next((c for c in COMPILERS if shutil.which(c)), None)
    if compiler is None:
        return _fallback(regressor, f"no C compiler found ({', '.join(COMPILERS)})")
    try:
        library = _build(regressor, Path(cache_dir), compiler)
        predictor = CompiledRegressor.open(library, regressor)
        probe = probe_rows(regressor)
        gap = float(np.max(np.abs(predictor.predict(probe) - regressor.predict(probe))))
    except Exception as exc:  # the compiler's, treelite's or the file system's: all mean "not compiled"
        return _fallback(regressor, f"compiling failed: {type(exc).__name__}: {str(exc)[:300]}")
    if not gap <= TOLERANCE_CYCLES:
        return _fallback(regressor, f"the compiled predictions differ from the regressor's by {gap:.3g}")
    return predictor


def _build(regressor: Any, cache_dir: Path, compiler: str) -> Path:
    """The library for ``regressor`` in ``cache_dir``, built there unless a process already did."""
    import treelite

    trees = treelite.sklearn.import_model(regressor)  # 20 ms for 600 trees
    library = cache_dir / library_name(trees.serialize_bytes())
    if library.exists():
        return library

    def build(partial: Path) -> None:
        import tl2cgen

        tl2cgen.export_lib(
            trees,
            toolchain=compiler,
            libpath=partial,
            params={"parallel_comp": SOURCE_FILES, "quantize": QUANTIZE},
            nthread=BUILD_PROCESSES,
            options=[OPTIMISE],
        )
        log.info("compiled the regressor's trees into %s", library)

    return built_once(library, build)


def _fallback(regressor: Any, reason: str) -> Any:
    if reason not in _LOGGED:
        _LOGGED.add(reason)
        log.warning("predicting with %s itself, not compiled: %s", type(regressor).__name__, reason)
    return regressor
