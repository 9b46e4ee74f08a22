"""Client input KServe cannot decode is the client's mistake: a 400 naming it, never a 500.

KServe 0.21's ``DataPlane.decode`` raises ValueError/KeyError/TypeError on several malformed
V2 binary-extension and CloudEvent inputs (a bad ``inference-header-content-length``, a
binary body without ``inputs``, malformed CloudEvent headers), which its REST server turns
into 500s; and a V2 JSON body sent with curl's default form content type is read as the
binary extension and refused. Canaries: ``tests/upstream/test_decoding.py``.
"""

from __future__ import annotations

from kserve.constants.constants import INFERENCE_CONTENT_LENGTH_HEADER, PredictorProtocol
from kserve.errors import InvalidInput
from kserve.protocol.dataplane import JSON_HEADERS as KSERVE_JSON_CONTENT_TYPES
from kserve.protocol.dataplane import DataPlane
from kserve.protocol.rest.v2_datamodels import InferenceRequest
from pydantic import ValidationError

from predictor import validation
from predictor.serving.admission import InstanceBudget, instances_in

MAX_VALIDATION_PROBLEMS = 3
# (V1, V2): what an empty body should have been.
EMPTY_BODY = (
    validation.EMPTY_BODY,
    'request body is empty; send a JSON inference request {"inputs": [...]}',
)


class ClientInputDataPlane(DataPlane):
    """KServe's data plane, but a request body it cannot decode is the client's error (400).

    ``DataPlane.decode`` only interprets the client's bytes and headers, so any failure there
    (KServe raises ValueError/KeyError/TypeError on several malformed V2 binary-extension and
    CloudEvent inputs) is reported as ``InvalidInput`` naming the problem. It also holds
    the process's instance budget, which ``infer`` and ``explain`` take from.
    """

    def __init__(self, *args, budget: InstanceBudget | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        # The process's instance budget (:mod:`.admission`): KServe's routes and gRPC take
        # from it here, the fast lane from the same object.
        self.budget = budget or InstanceBudget.unlimited()

    async def infer(self, model_name, request, headers=None):
        with self.budget.held(instances_in(request)):
            return await super().infer(model_name, request, headers)

    async def explain(self, model_name, request, headers=None):
        with self.budget.held(instances_in(request)):
            return await super().explain(model_name, request, headers)

    def decode(self, body, headers, *args, **kwargs):
        protocol = kwargs.get("protocol_version", args[0] if args else None)
        if isinstance(body, bytes | bytearray) and not body.strip():
            _refuse_if_parsed(protocol == PredictorProtocol.REST_V2.value, headers)
        if isinstance(body, bytes | bytearray) and headers:
            _check_binary_header_length(body, headers)
        if _is_v2_json_bytes(body, headers, protocol):
            body = _parse_v2_json(body)
        try:
            return super().decode(body, headers, *args, **kwargs)
        except InvalidInput:
            raise
        except KeyError as error:
            raise InvalidInput(f"malformed request: required field {error} is missing") from None
        except Exception as error:
            raise InvalidInput(f"malformed request: {type(error).__name__}: {error}") from None


def _refuse_if_parsed(v2: bool, headers: dict | None) -> None:
    """An empty body KServe would parse as JSON (a V1 body of another content type goes to
    the model, whose validator says the same): KServe's wording names the parser, ours what
    to send."""
    content_type = (headers or {}).get("content-type")
    if v2 or content_type is None or content_type in KSERVE_JSON_CONTENT_TYPES:
        raise InvalidInput(EMPTY_BODY[v2])


def _is_v2_json_bytes(body, headers: dict | None, protocol: str | None) -> bool:
    """A V2 body FastAPI left as bytes (not a JSON content type) without the binary header.

    Plain ``curl -d`` sends a form content type; KServe would answer that the binary
    extension's header is missing. Without that header the body can only be JSON.
    """
    return (
        protocol == PredictorProtocol.REST_V2.value
        and isinstance(body, bytes | bytearray)
        and INFERENCE_CONTENT_LENGTH_HEADER not in (headers or {})
    )


def _parse_v2_json(body: bytes) -> InferenceRequest:
    try:
        return InferenceRequest.model_validate_json(bytes(body))
    except ValidationError as error:
        raise InvalidInput(describe_problems(error.errors())) from None


def _check_binary_header_length(body: bytes, headers: dict) -> None:
    value = headers.get(INFERENCE_CONTENT_LENGTH_HEADER)
    if value is None:
        return
    try:
        length = int(value)
    except ValueError:
        length = -1
    if not 0 <= length <= len(body):
        raise InvalidInput(
            f"header {INFERENCE_CONTENT_LENGTH_HEADER!r} must be an integer between 0 and the "
            f"body length ({len(body)}), got {value[:40]!r}"
        )


def describe_problems(problems: list[dict]) -> str:
    """Pydantic's errors for a V2 body as one line naming each field and what is wrong."""
    if problems and problems[0].get("type") == "json_invalid":
        reason = (problems[0].get("ctx") or {}).get("error", "JSON decode error")
        location = problems[0].get("loc") or ()
        # FastAPI's errors end their location with the byte offset; pydantic's own have none.
        at = f" at byte {location[-1]}" if location and isinstance(location[-1], int) else ""
        return f"request body is not valid JSON: {reason}{at}"
    described = []
    for problem in problems[:MAX_VALIDATION_PROBLEMS]:
        # loc is e.g. ("body", "InferenceRequest", "inputs", 0, "shape"): keep the field path.
        where = ".".join(
            str(part)
            for part in problem.get("loc", ())
            if part != "body" and not (isinstance(part, str) and part[:1].isupper())
        )
        described.append(f"{where or 'body'}: {problem.get('msg', 'invalid')}")
    more = len(problems) - len(described)
    message = "invalid inference request: " + "; ".join(described)
    if more > 0:
        message += f" (and {more} more)"
    return message
