# JupyterLab for `docker compose up`: the notebooks' requirements and helpers, plus a redis-server binary
# so notebook 04 can start its private sandbox server for the eviction demos.
# The quay.io/jupyter images run as jovyan (UID 1000); see the README FAQ for bind-mount permissions.
FROM quay.io/jupyter/minimal-notebook:2026-07-20

USER root
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER ${NB_UID}

WORKDIR /home/jovyan/work
COPY --chown=${NB_UID}:${NB_GID} requirements.txt pyproject.toml README.md ./
COPY --chown=${NB_UID}:${NB_GID} helpers ./helpers
# Editable install: at run time the repository is mounted over /home/jovyan/work, so the live helpers are used.
RUN pip install --no-cache-dir -r requirements.txt
# A quiet first start: no "Would you like to get notified about official Jupyter news?" pop-up.
COPY --chown=${NB_UID}:${NB_GID} lab/overrides.json ${CONDA_DIR}/share/jupyter/lab/settings/overrides.json
