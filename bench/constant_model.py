"""KServe's framework floor: a ``kserve.Model`` whose ``predict`` returns a constant.

No parsing beyond what KServe itself does, no model, logging quiet (no latency trace, no
access log). Whatever it reaches is the most any KServe ``Model`` can do on this machine.

Run: ``python bench/constant_model.py --http_port P --grpc_port G``
"""

from __future__ import annotations

import argparse
import logging

from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.logging import KSERVE_LOG_CONFIG, configure_logging
from kserve.model_server import parser as kserve_parser

CONSTANT = {"predictions": [0.5]}


class ConstantModel(Model):
    def predict(self, payload, headers=None):
        if isinstance(payload, InferRequest):
            output = InferOutput("probability_malignant", [1], "FP64", [0.5])
            return InferResponse(
                response_id=payload.id or "",
                model_name=self.name,
                infer_outputs=[output],
                from_grpc=payload.from_grpc,
            )
        return CONSTANT


def quiet_logging() -> None:
    """KServe's own log config with the per-request loggers raised to WARNING."""
    config = {**KSERVE_LOG_CONFIG, "loggers": dict(KSERVE_LOG_CONFIG["loggers"])}
    for name in ("kserve.trace", "uvicorn.access"):
        config["loggers"][name] = {**config["loggers"][name], "level": "WARNING"}
    configure_logging(config)
    logging.getLogger("kserve.trace").setLevel(logging.WARNING)


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve_parser])
    parser.add_argument("--model_dir", default=None, help="ignored; accepted for symmetry")
    args = parser.parse_args()
    quiet_logging()
    model = ConstantModel(args.model_name)
    model.load()
    ModelServer(
        http_port=args.http_port, grpc_port=args.grpc_port, enable_latency_logging=False
    ).start([model])


if __name__ == "__main__":
    main()
