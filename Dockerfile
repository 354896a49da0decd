# One image for every Licentia service: `licentia serve <service>` picks one.
#   docker build -t licentia:0.1.0 .
#   docker run --rm -p 50051:50051 -e LICENTIA_OPERATOR_API_KEY=... licentia:0.1.0 serve catalog
#   docker run --rm -e LICENTIA_DATABASE_URL=postgresql://... licentia:0.1.0 migrate

# The base image, pinned by digest for reproducible builds:
#   docker build --build-arg PYTHON_IMAGE=python:3.11-slim@sha256:<digest> .
# (`docker buildx imagetools inspect python:3.11-slim` prints the current digest.)
ARG PYTHON_IMAGE=python:3.11-slim

# Build stage: generate the protobuf code, build the wheel, install it into a venv.
FROM ${PYTHON_IMAGE} AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# The code generators only; they stay in this stage.
RUN pip install grpcio-tools==1.85.1 mypy-protobuf==5.1.0
COPY pyproject.toml constraints.txt README.md ./
COPY protos/ protos/
COPY tools/gen_protos.py tools/
COPY services/ services/
RUN python tools/gen_protos.py \
 && python -m venv /opt/licentia \
 && /opt/licentia/bin/pip install -c constraints.txt .

# Final stage: the venv and nothing to build with.
FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 licentia \
 && useradd --system --uid 10001 --gid licentia --no-create-home --shell /usr/sbin/nologin licentia
COPY --from=build /opt/licentia /opt/licentia
ENV PATH=/opt/licentia/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    LICENTIA_HOST=0.0.0.0 \
    LICENTIA_DATA_DIR=/tmp/licentia
USER 10001:10001
# gRPC (one port per service by default), the edge and the console (HTTP), and
# Prometheus metrics.
EXPOSE 50051 50052 50053 50054 50055 8080 8090 9464
ENTRYPOINT ["licentia"]
CMD ["--help"]
