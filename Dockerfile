# The connector image, as Airbyte builds Python connectors: install the wheel into the base
# image's Python in a builder stage, copy the installed tree into a clean stage, run as `airbyte`.
# The base image is pinned by digest (the same one metadata.yaml names) for reproducible builds.
ARG BASE_IMAGE=docker.io/airbyte/python-connector-base:4.1.0@sha256:1d1aa21d34e851df4e8a87b391c27724c06e2597608e7161f4d167be853bd7b6

FROM ${BASE_IMAGE} AS builder
WORKDIR /airbyte/integration_code
# Every package comes from the locks (tools/lock.py writes them from pyproject.toml): with
# --require-hashes pip refuses any package, version or file that is not in them, and resolves
# nothing. The build backend goes to a folder of its own, which the final stage does not copy.
COPY requirements/runtime.txt requirements/build.txt ./requirements/
RUN pip install --no-cache-dir --no-compile --require-hashes -r requirements/runtime.txt \
 && pip install --no-cache-dir --no-compile --require-hashes --target /tmp/build-backend -r requirements/build.txt
COPY pyproject.toml README.md LICENSE ./
COPY source_usage ./source_usage
COPY schemas ./schemas
# The connector alone: its dependencies are installed above, and it is built by the locked
# backend instead of one pip would fetch into an isolated build environment.
RUN PYTHONPATH=/tmp/build-backend pip install --no-cache-dir --no-compile --no-deps --no-build-isolation /airbyte/integration_code

FROM ${BASE_IMAGE}
WORKDIR /airbyte/integration_code
COPY --from=builder /usr/local /usr/local
# Airbyte runs AIRBYTE_ENTRYPOINT, which must equal ENTRYPOINT and use absolute paths
# (the platform may change the working directory).
ENV AIRBYTE_ENTRYPOINT="/usr/local/bin/python -m source_usage.run"
ENTRYPOINT ["/usr/local/bin/python", "-m", "source_usage.run"]
# Airbyte's image contract names the user `airbyte` (uid 1000, created by the base image);
# hadolint's DL3066 prefers a numeric id, which would hide that contract.
# hadolint ignore=DL3066
USER airbyte
