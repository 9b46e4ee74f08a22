# One image for serving and training.
#   serve (default): docker run -p 8080:8080 -v "$PWD/models:/mnt/models:ro" IMAGE \
#                      --model_name breast-cancer --model_dir /mnt/models
#   train:           docker run --entrypoint python IMAGE -m training --output /mnt/models
# The builder and runtime stages must use the same Python image: the venv's interpreter
# is a symlink to /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --extra plots
# Then the project itself, installed as a regular (non-editable) package.
COPY predictor/ predictor/
COPY training/ training/
RUN uv sync --frozen --no-dev --no-editable --extra plots

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="breast-cancer-kserve" \
      org.opencontainers.image.description="KServe predictor and training job for the breast-cancer classifier" \
      org.opencontainers.image.licenses="Apache-2.0"
# HOME and MPLCONFIGDIR point at /tmp, the only writable path under readOnlyRootFilesystem.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    MPLCONFIGDIR=/tmp/matplotlib
# Nothing is installed at runtime: drop the base image's pip/setuptools/wheel and add the
# unprivileged user (UID/GID 1000) the chart's securityContext expects.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
    && groupadd --gid 1000 app \
    && useradd --uid 1000 --gid 1000 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin app
WORKDIR /app
# Owned by root and read-only for the app user.
COPY --from=builder /app/.venv /app/.venv
# The example payloads, so `helm test` sends the same request the tests and README use.
COPY examples/ examples/
USER 1000:1000
# 8080: HTTP (V1/V2 REST, /metrics); 8081: gRPC (V2).
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "predictor"]
