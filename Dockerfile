# kernel_gateway as a container: `make image` builds it, docs/operations.md shows how to run it.
# The base is any Debian-like image with python3 (3.10+) and its venv module:
#   podman build --build-arg BASE=localhost/kgbase -t localhost/kernel-gateway .
ARG BASE=python:3.12-slim
FROM ${BASE}

# Build-time only: the CA bundle pip trusts, where the build mounts the host's (make image does).
ARG PIP_CERT=

RUN useradd --create-home --uid 1000 --user-group --shell /usr/sbin/nologin gateway

COPY pyproject.toml README.md LICENSE /tmp/kernel_gateway/
COPY kernel_gateway /tmp/kernel_gateway/kernel_gateway
RUN if [ -z "$PIP_CERT" ]; then unset PIP_CERT; fi \
    && python3 -m venv /opt/kernel_gateway \
    && /opt/kernel_gateway/bin/pip install --no-cache-dir --disable-pip-version-check \
        /tmp/kernel_gateway \
    && /opt/kernel_gateway/bin/pip uninstall --yes --quiet pip \
    && rm -rf /tmp/kernel_gateway \
    && find /opt/kernel_gateway -name __pycache__ -prune -exec rm -rf {} +

ENV PATH=/opt/kernel_gateway/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KG_IP=0.0.0.0 \
    KG_PORT=8888

USER gateway
WORKDIR /home/gateway
EXPOSE 8888
# /healthz is also served at the root when KG_BASE_URL is set
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('KG_PORT', '8888') + '/healthz', timeout=2)"]

# Serve a notebook mounted at run time:  -v ./api.ipynb:/notebooks/api.ipynb:ro
#   -e KG_API=notebook-http -e KG_SEED_URI=/notebooks/api.ipynb -e KG_AUTH_TOKEN=...
ENTRYPOINT ["jupyter", "kernelgateway"]
