"""Stock KServe: ``ModelServer().start`` with its defaults and a trivial model.

The canaries in this directory run it to show that a KServe behaviour this project works
around is still there. Run: ``python tests/upstream/stock_server.py --model_name NAME
--http_port P --grpc_port G`` (KServe reads the flags itself, at import).
"""

from __future__ import annotations

import asyncio
import builtins

from kserve import Model, ModelServer, errors
from kserve.errors import InvalidInput
from kserve.model_server import args
from kserve.protocol.infer_type import InferOutput, InferRequest, InferResponse


class StockModel(Model):
    """Answers V1 with the event loop it runs on and the payload's type, V2 with a constant.

    ``{"bad": 1}`` is a 400; ``{"raise": "Name"}`` raises ``kserve.errors.Name`` (or the
    builtin exception of that name) with the message ``"raised"``; ``{"bytes": "text"}``
    answers the text's UTF-8 bytes.
    """

    def __init__(self, name: str):
        super().__init__(name)
        self.load()

    def load(self) -> bool:
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        if isinstance(payload, InferRequest):
            output = InferOutput("answer", [1], "FP64", [1.0])
            return InferResponse(payload.id or "0", self.name, infer_outputs=[output])
        if isinstance(payload, dict) and "bad" in payload:
            raise InvalidInput("the client sent something wrong")
        if isinstance(payload, dict) and "raise" in payload:
            name = payload["raise"]
            error = getattr(errors, name, None) or getattr(builtins, name)
            raise error("raised")
        if isinstance(payload, dict) and "bytes" in payload:
            return payload["bytes"].encode()
        loop = type(asyncio.get_running_loop())
        return {
            "predictions": [1.0],
            "event_loop": f"{loop.__module__}.{loop.__name__}",
            "payload_type": type(payload).__name__,
        }


if __name__ == "__main__":
    ModelServer().start([StockModel(args.model_name)])
