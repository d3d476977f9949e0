# syntax=docker/dockerfile:1
# One image for every role of Crossdock (seed 000, "Despliegue On-Premise"): the command picks the
# role (`crossdock role receiver|dagster-code-server|dagster-webserver|dagster-daemon|streamlit|migrate`,
# see docker-compose.yml). Dependencies come from requirements-runtime.lock (uv pip sync): the runtime
# set only, no test or lint tools, at the same pins as requirements.lock (`make lock` writes both).
# No secret is ever baked in: they come from the environment (.env) at run time.
#
# BASE_IMAGE is any Debian bookworm with Python 3.11 (`python3.11 -m venv` must work): the official
# python:3.11-slim-bookworm by default; `make compose-check` passes an image it built with debootstrap.
ARG BASE_IMAGE=python:3.11-slim-bookworm

# --- build: a virtualenv at /opt/venv with the locked dependencies and Crossdock itself -------------
FROM ${BASE_IMAGE} AS build
ARG UV_VERSION=0.13.9
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 UV_NO_CACHE=1 UV_LINK_MODE=copy
# deploy/wheels/ is an optional offline wheelhouse (its README): with wheels in it, nothing is
# fetched from an index; without, pip and uv use PyPI.
COPY deploy/wheels /wheels
RUN if ls /wheels/*.whl >/dev/null 2>&1; then echo "--no-index --find-links /wheels" > /wheels/.options; \
    else : > /wheels/.options; fi \
 && python3.11 -m venv /opt/venv \
 && /opt/venv/bin/python -m pip install -q $(cat /wheels/.options) uv==${UV_VERSION}
WORKDIR /opt/crossdock
# The lock first, so a code change does not reinstall every dependency.
COPY requirements-runtime.lock pyproject.toml ./
RUN /opt/venv/bin/uv pip sync -q --compile-bytecode $(cat /wheels/.options) --python /opt/venv/bin/python requirements-runtime.lock
COPY README.md workspace.yaml ./
COPY pipelines ./pipelines
COPY connectors ./connectors
COPY assets ./assets
COPY app ./app
COPY crossdock ./crossdock
COPY examples ./examples
RUN /opt/venv/bin/uv pip install -q $(cat /wheels/.options) --python /opt/venv/bin/python --no-deps -e . \
 && /opt/venv/bin/python -m pip uninstall -q -y uv \
 && /opt/venv/bin/python -m compileall -q pipelines connectors assets app crossdock

# --- runtime: the virtualenv and the code, owned by root, run by an unprivileged user -------------
FROM ${BASE_IMAGE} AS runtime
RUN groupadd --system --gid 10001 crossdock \
 && useradd --system --uid 10001 --gid crossdock --home-dir /var/lib/crossdock --shell /usr/sbin/nologin crossdock \
 && mkdir -p /var/lib/crossdock \
 && chown crossdock:crossdock /var/lib/crossdock \
 && chmod 0700 /var/lib/crossdock
COPY --from=build /opt/venv /opt/venv
COPY --from=build /opt/crossdock /opt/crossdock
WORKDIR /opt/crossdock
# Every service listens on all interfaces inside its container; compose decides what is published.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    CROSSDOCK_HOME=/var/lib/crossdock \
    CROSSDOCK_HOST=0.0.0.0
VOLUME ["/var/lib/crossdock"]
USER crossdock:crossdock
EXPOSE 8085 3000 4266 8501
# The receiver's probe by default; compose gives each role its own (`crossdock health <role>`).
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 CMD ["crossdock", "health", "receiver"]
ENTRYPOINT ["crossdock"]
CMD ["role", "receiver"]
