"""The plain KServe baseline: what a first custom predictor for this model usually looks like.

``np.asarray(payload["instances"])`` then ``predict_proba``; ModelServer defaults (latency
logging and access log on, KServe's own logging config); the same artifact's pipeline
loaded with joblib. No input validation: a wrong-shaped body is a 500. V2 (REST and gRPC)
gets the equally plain ``as_numpy()`` then ``predict_proba``.

Run: ``python bench/baseline_model.py --model_dir DIR --http_port P --grpc_port G``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import numpy as np
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer
from kserve.model_server import parser as kserve_parser


def artifact_file(model_dir: Path) -> Path:
    """``DIR/LATEST`` names the version directory holding ``model.joblib``."""
    latest = model_dir / "LATEST"
    version_dir = model_dir / latest.read_text().strip() if latest.is_file() else model_dir
    return version_dir / "model.joblib"


class BaselineModel(Model):
    def __init__(self, name: str, model_dir: str):
        super().__init__(name)
        self.model_dir = Path(model_dir)
        self.pipeline = None

    def load(self) -> bool:
        self.pipeline = joblib.load(artifact_file(self.model_dir))
        self.ready = True
        return self.ready

    def predict(self, payload, headers=None):
        if isinstance(payload, InferRequest):
            features = payload.inputs[0].as_numpy()
            probabilities = self.pipeline.predict_proba(features)[:, 1]
            output = InferOutput(
                "probability_malignant", list(probabilities.shape), "FP64", probabilities
            )
            return InferResponse(
                response_id=payload.id or "",
                model_name=self.name,
                infer_outputs=[output],
                from_grpc=payload.from_grpc,
            )
        features = np.asarray(payload["instances"])
        return {"predictions": self.pipeline.predict_proba(features)[:, 1].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(parents=[kserve_parser])
    parser.add_argument("--model_dir", required=True)
    args = parser.parse_args()
    model = BaselineModel(args.model_name, args.model_dir)
    model.load()
    ModelServer(http_port=args.http_port, grpc_port=args.grpc_port).start([model])


if __name__ == "__main__":
    main()
