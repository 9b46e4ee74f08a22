"""Strict request validation: every value must be a finite JSON number, in the right place.

The happy path is vectorised (every value packed as a C double in one ``struct`` call, or for
a few instances C-level ``map``/``set`` over the decoded JSON, then one ``np.array``; one
instance stays a sequence of floats); only a request that fails it is walked value by value,
to name the first problems (instance, feature, what was expected, what arrived: ``problems``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import orjson
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferRequest

from predictor.problems import (
    MAX_REPORTED_PROBLEMS,
    describe,
    flat_numbers_problem,
    instance_problems,
    is_finite_number,
    json_type,
)

INSTANCES_KEY = "instances"
EMPTY_BODY = 'request body is empty; send a JSON object {"instances": [...]}'
NUMBER_TYPES = frozenset({int, float})
FLOAT_ONLY = {float}
V2_DATATYPES = ("FP32", "FP64")
# Below this many instances the per-value type check is the cheaper one.
PACKED_MIN_ROWS = 5
# More than 1 in this many cells equal to 0 or 1: checking them one by one costs more than
# the per-value type check.
MAX_ZERO_ONE_SHARE = 16


class FeatureValidator:
    """Turns V1 bodies and V2 tensors into a float64 matrix of shape (N, n_features)."""

    def __init__(self, feature_names: list[str], max_instances: int):
        self.feature_names = list(feature_names)
        self.n_features = len(feature_names)
        self.max_instances = max_instances
        self._by_name = itemgetter(*feature_names)

    # ---- V1 -------------------------------------------------------------------------------

    def v1(self, payload: Any) -> np.ndarray:
        """Validate a V1 body (decoded dict, or raw bytes/str from a non-JSON content type)."""
        features = self.v1_features(payload)
        return features if isinstance(features, np.ndarray) else np.array([features], dtype=float)

    def v1_features(self, payload: Any) -> np.ndarray | Sequence[float]:
        """:meth:`v1`, but one instance stays a sequence of floats (see :func:`_finite_row`)."""
        if type(payload) is dict:
            # One positional instance, the usual request, in one step (else the general way).
            instances = payload.get(INSTANCES_KEY)
            if type(instances) is list and len(instances) == 1:
                row = instances[0]
                ok = type(row) is list and len(row) == self.n_features
                if ok and (values := _finite_row(row)) is not None:
                    return values
        elif isinstance(payload, bytes | bytearray | memoryview | str):
            payload = decode_json(payload)
        if not isinstance(payload, dict):
            raise InvalidInput(
                f'request body must be a JSON object {{"{INSTANCES_KEY}": [...]}}, '
                f"got {json_type(payload)}"
            )
        if INSTANCES_KEY not in payload:
            keys = ", ".join(repr(k) for k in list(payload)[:5]) or "none"
            raise InvalidInput(
                f'request body has no "{INSTANCES_KEY}" key (keys received: {keys}); expected '
                f'{{"{INSTANCES_KEY}": [[{self.n_features} numbers], ...]}}'
            )
        instances = payload[INSTANCES_KEY]
        if not isinstance(instances, list):
            raise InvalidInput(
                f'"{INSTANCES_KEY}" must be a list of instances, got {json_type(instances)}'
            )
        self.check_count(len(instances))
        matrix = self._of_one_kind(instances)
        if matrix is None:
            matrix = self._checked_one_by_one(instances)
        return matrix

    def matrix_of(self, rows: list) -> np.ndarray | None:
        """Some of a V1 request's instances as a float64 matrix when every one is valid and
        of one kind (all positional, or all named), else None: the whole request is then
        validated by :meth:`v1_features`, which names the problems. The matrices of
        consecutive slices, stacked, are what :meth:`v1_features` returns for them together.
        """
        matrix = self._of_one_kind(rows)
        if matrix is None or type(matrix) is np.ndarray:
            return matrix
        return np.array([matrix], dtype=np.float64)  # one instance came back as floats

    def _of_one_kind(self, rows: list) -> np.ndarray | Sequence[float] | None:
        """The fast path: all positional or all named, every value valid; else None."""
        kinds = set(map(type, rows))
        if kinds == {list}:
            return self._positional(rows)
        if kinds == {dict}:
            return self._named(rows)
        return None

    def check_count(self, count: int) -> None:
        """Raise InvalidInput unless a request of ``count`` instances may be scored."""
        if count == 0:
            raise InvalidInput(f'"{INSTANCES_KEY}" is empty; send at least one instance')
        if count > self.max_instances:
            raise InvalidInput(
                f'"{INSTANCES_KEY}" holds {count} instances; at most {self.max_instances} are '
                f"allowed per request (server flag --max_instances)"
            )

    def _positional(self, rows: list[list]) -> np.ndarray | None:
        if set(map(len, rows)) != {self.n_features}:
            return None
        return self._finite_matrix(rows)

    def _named(self, objects: list[dict]) -> np.ndarray | None:
        if set(map(len, objects)) != {self.n_features}:
            return None
        try:
            rows = list(map(self._by_name, objects))
        except KeyError:
            return None
        return self._finite_matrix(rows)

    def _finite_matrix(self, rows: list) -> np.ndarray | Sequence[float] | None:
        if len(rows) == 1:
            return _finite_row(rows[0])
        matrix = self._packed_matrix(rows)
        if matrix is None:
            # bool is not a subclass match here: type(True) is bool, so booleans fail this check.
            if not set(map(type, chain.from_iterable(rows))) <= NUMBER_TYPES:
                return None
            try:
                matrix = np.array(rows, dtype=np.float64)
            except OverflowError:  # an integer beyond float64: named by the slow path
                return None
        if not np.isfinite(matrix).all():
            return None
        return matrix

    def _packed_matrix(self, rows: list) -> np.ndarray | None:
        """All values straight into a float64 matrix, without a Python-level check per value.

        ``struct`` packs a C double only from a number (or a boolean): a string, null, list
        or object raises, so the values are numbers unless a boolean slipped in as exactly
        0 or 1; only those cells are looked at. Anything else, or too many 0/1 cells to look
        at cheaply, returns None for the exact per-value check. (A decoded JSON body holds
        only str, int, float, bool, None, list and dict.) Rows are known to have
        ``n_features`` values each.
        """
        count = len(rows)
        if count < PACKED_MIN_ROWS:
            return None
        matrix = np.empty((count, self.n_features), dtype=np.float64)
        try:
            struct.pack_into(f"{matrix.size}d", matrix, 0, *chain.from_iterable(rows))
        except (struct.error, TypeError, OverflowError):
            return None
        cells = np.flatnonzero((matrix == 0) | (matrix == 1))
        if cells.size > matrix.size // MAX_ZERO_ONE_SHARE:
            return None
        width = self.n_features
        for cell in cells.tolist():
            row, column = divmod(cell, width)
            if type(rows[row][column]) is bool:
                return None
        return matrix

    def _checked_one_by_one(self, instances: list) -> np.ndarray:
        """Slow path: name the first problems, or build the matrix from mixed kinds."""
        self._refuse_if_flat(instances)
        problems: list[str] = []
        for index, instance in enumerate(instances):
            problems += instance_problems(f"instance {index}", instance, self.feature_names)
            if len(problems) >= MAX_REPORTED_PROBLEMS:
                break
        if problems:
            raise InvalidInput("; ".join(problems[:MAX_REPORTED_PROBLEMS]))
        rows = [self._by_name(i) if isinstance(i, dict) else i for i in instances]
        return np.array(rows, dtype=np.float64)

    def _refuse_if_flat(self, instances: list) -> None:
        if problem := flat_numbers_problem(INSTANCES_KEY, instances, self.n_features):
            raise InvalidInput(problem)

    # ---- V2 (REST and gRPC) ----------------------------------------------------------------

    def v2(self, request: InferRequest) -> np.ndarray | Sequence[float]:
        """Validate an Open Inference Protocol request: one FP32/FP64 tensor of [N, features].

        Returns:
            The float64 matrix, or for one instance sent as JSON/typed contents its values as
            Python floats (as ``v1_features`` returns one instance).
        """
        if len(request.inputs) != 1:
            raise InvalidInput(
                f"expected exactly 1 input tensor of shape [N, {self.n_features}], "
                f"got {len(request.inputs)}"
            )
        tensor = request.inputs[0]
        where = f"input {tensor.name!r}"
        if tensor.datatype not in V2_DATATYPES:
            raise InvalidInput(
                f"{where}: datatype must be one of {', '.join(V2_DATATYPES)}, "
                f"got {tensor.datatype!r}"
            )
        shape = list(tensor.shape)
        if len(shape) != 2 or shape[1] != self.n_features or shape[0] < 1:
            raise InvalidInput(
                f"{where}: shape must be [N, {self.n_features}] with N >= 1, got {shape}"
            )
        self.check_count(shape[0])
        if shape[0] == 1 and getattr(tensor, "_raw_data", None) is None:
            data = tensor.data
            if type(data) is list and len(data) == self.n_features:
                row = _finite_row(data)
                if row is not None:
                    return row
        matrix = self._tensor_values(where, tensor, shape)
        finite = np.isfinite(matrix)
        if not finite.all():
            row, column = (int(v) for v in np.argwhere(~finite)[0])
            raise InvalidInput(
                f"{where}: instance {row}, feature {self.feature_names[column]!r}: expected a "
                f"finite number, got {matrix[row, column]}"
            )
        return matrix

    def _tensor_values(self, where: str, tensor: Any, shape: list[int]) -> np.ndarray:
        expected = shape[0] * shape[1]
        if getattr(tensor, "_raw_data", None) is not None:
            itemsize = 4 if tensor.datatype == "FP32" else 8
            raw = tensor._raw_data
            if len(raw) != expected * itemsize:
                raise InvalidInput(
                    f"{where}: raw data holds {len(raw)} bytes, shape {shape} of "
                    f"{tensor.datatype} needs {expected * itemsize}"
                )
            return tensor.as_numpy().astype(np.float64, copy=False)
        data = tensor.data
        if not isinstance(data, list):
            data = list(data) if data is not None else []
        if data and all(isinstance(row, list) for row in data):
            data = list(chain.from_iterable(data))
        if len(data) != expected:
            raise InvalidInput(
                f"{where}: data holds {len(data)} values, shape {shape} needs {expected}"
            )
        try:
            if set(map(type, data)) <= NUMBER_TYPES:
                return np.array(data, dtype=np.float64).reshape(shape)
        except OverflowError:
            pass  # an integer beyond float64, named below
        position = next(i for i, v in enumerate(data) if not is_finite_number(v))
        row, column = divmod(position, shape[1])
        raise InvalidInput(
            f"{where}: instance {row}, feature {self.feature_names[column]!r}: expected a "
            f"finite number, got {describe(data[position])}"
        )


def decode_json(body: bytes | bytearray | memoryview | str) -> Any:
    """Parse a body that arrived with a non-JSON content type (e.g. curl's form default)."""
    if not body.strip():
        raise InvalidInput(EMPTY_BODY)
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise InvalidInput(f"request body is not valid JSON: {error}") from None


def _finite_row(values: Sequence) -> Sequence[float] | None:
    """One instance's values as finite floats (ints rounded as numpy would), or None.

    Without numpy: for 30 values its per-call overhead costs more than the checks. A finite
    sum proves every value finite (an infinity or NaN would make it one; a sum that
    overflows only sends a valid instance down the slower path).
    """
    kinds = set(map(type, values))
    try:
        if kinds != FLOAT_ONLY:
            if not kinds <= NUMBER_TYPES:
                return None  # booleans too: type(True) is bool
            values = list(map(float, values))
        return values if math.isfinite(sum(values)) else None
    except OverflowError:  # an integer beyond float64: named by the slow path
        return None
