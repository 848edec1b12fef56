# The aiops image used by manifests/charts/aiops (watcher Deployment and CronJobs).
# Built from a clean checkout: `docker build -t ghcr.io/OWNER/aiops:0.1.0 .`
# Runs as a non-root user with a read-only root filesystem (the chart mounts /tmp as emptyDir).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY aiops ./aiops
COPY manifests ./manifests
COPY .github/aiops.yaml ./.github/aiops.yaml
RUN pip wheel --no-cache-dir --wheel-dir /wheels .

FROM python:3.11-slim
# git is needed by the local forge and the audit (git log over history/)
RUN apt-get update \
 && apt-get install -y --no-install-recommends git ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl && rm -rf /wheels
USER 65532:65532
ENV HOME=/tmp PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["aiops"]
CMD ["--help"]
