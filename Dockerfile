# One image for serving, training and batch scoring. It carries a reference model, trained at
# build time from the bundled WDBC data (seed 42) and verified like any artifact when served.
#   serve the reference model:  docker run -p 8080:8080 -p 8081:8081 IMAGE
#   serve your own:             docker run -p 8080:8080 -p 8081:8081 \
#                                 -v "$PWD/models:/mnt/models:ro" IMAGE --model_dir /mnt/models
#   train into ./models:        docker run --rm --user "$(id -u):$(id -g)" -v "$PWD/models:/out" \
#                                 --entrypoint python IMAGE -m training --output /out
#     (a volume the container's user can write: without one the model is lost with the
#     container, and the image's own paths are read-only for UID 1000)
#   score a file:               docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" \
#                                 --entrypoint python IMAGE -m predictor.batch \
#                                 --model_dir /app/reference-model \
#                                 --input /data/cases.csv --output /data/scores.csv
# Kubernetes (the chart, k8s/manifests) always passes --model_dir /mnt/models: a pod without
# its trained model never becomes ready, whatever the image carries.
# The builder and runtime stages must use the same Python image: the venv's interpreter
# is a symlink to /usr/local/bin/python3.11.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
# No bytecode at install time: it is written below by running training and the server, so
# the image carries compiled files only for the modules that actually run.
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    UV_COMPILE_BYTECODE=0 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
# binutils for strip (below); builder only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when the lock file changes.
# Without the plots extra: training writes the model card without its plots.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
# Then the project itself, installed as a regular (non-editable) package.
COPY predictor/ predictor/
COPY training/ training/
# Then drop what nothing imports (the packages' own test suites, C/Cython sources, headers)
# and the symbol tables of the extension modules. The libraries that auditwheel vendored
# into *.libs/ keep theirs: patchelf rewrote them, and strip would break them.
ARG SITE=/app/.venv/lib/python3.11/site-packages
RUN uv sync --frozen --no-dev --no-editable \
    && find "$SITE" -depth -type d -name tests -exec rm -rf {} + \
    && find "$SITE" -type f \( -name '*.pyx' -o -name '*.pxd' -o -name '*.pxi' -o -name '*.c' \
       -o -name '*.cpp' -o -name '*.h' -o -name '*.hpp' \) -delete \
    && find "$SITE" -type f -name '*.so*' -not -path '*.libs/*' -exec strip --strip-unneeded {} +
# The example payloads, so `helm test` sends the same request the tests and README use.
COPY examples/ examples/
# Train once, score the example CSV once and serve the examples once: this writes bytecode for
# exactly the modules that training, batch scoring and serving import, and fails the build if
# the image cannot do any of them. From /tmp,
# so Python imports the installed packages, not the sources in /app; on free ports and under
# its own model name, as the build may share the host's network. Then remove what of the
# Kubernetes API client only KServe's control-plane client uses (about 100 MB: the generated
# APIs and models, the lazy package of the models excepted, and the asyncio copy of the
# whole client) after checking that neither run imported any of it.
ENV PATH=/app/.venv/bin:$PATH
WORKDIR /tmp
RUN python -m training --output /app/reference-model --version reference --no-plots \
    && python -m predictor.batch --model_dir /app/reference-model \
         --input /app/examples/cases.csv --output /tmp/warm-scores/cases.csv \
    && free_port() { python -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"; } \
    && http_port="$(free_port)" && grpc_port="$(free_port)" \
    && (python -m predictor --model_name warm-up --model_dir /app/reference-model \
        --http_port "$http_port" --grpc_port "$grpc_port" &) \
    && for _ in $(seq 1 240); do \
         python -c "import sys, urllib.request as u; u.urlopen(sys.argv[1])" \
           "http://127.0.0.1:$http_port/v1/models/warm-up" 2>/dev/null && break; \
         sleep 0.5; \
       done \
    && for request in v1/models/warm-up:predict:valid_batch_request.json \
                      v1/models/warm-up:explain:valid_request.json \
                      v2/models/warm-up/infer:v2_infer_request.json; do \
         python -c "import sys, urllib.request as u; path, body = sys.argv[2].rsplit(':', 1); \
u.urlopen(u.Request(sys.argv[1] + path, open('/app/examples/' + body, 'rb').read(), \
{'Content-Type': 'application/json'}))" "http://127.0.0.1:$http_port/" "$request" || exit 1; \
       done \
    && k="$SITE/kubernetes" \
    && if [ -n "$(find "$k/aio" -name '*.pyc' -print -quit)" ] \
         || [ -n "$(find "$k/client/api" "$k/client/models" -name '*.pyc' ! -name '__init__.*' -print -quit)" ]; then \
         echo "a module of kubernetes.aio, .client.api or .client.models is imported at run time" >&2; \
         exit 1; \
       fi \
    && rm -rf "$k/aio" "$k/client/api" \
    && find "$k/client/models" -maxdepth 1 -type f -name '*.py' ! -name __init__.py -delete

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
COPY --from=builder /app/examples /app/examples
COPY --from=builder /app/reference-model /app/reference-model
USER 1000:1000
# 8080: HTTP (V1/V2 REST, /metrics); 8081: gRPC (V2).
EXPOSE 8080 8081
ENTRYPOINT ["python", "-m", "predictor"]
# The bundled reference model; any arguments given to `docker run IMAGE ...` replace these.
CMD ["--model_dir", "/app/reference-model"]
