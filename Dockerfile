# CPU image of the project (pricecast): the `cpu` process worker, the one-shot
# `forecast deploy` and the optional Dask services. Build context: the repository root.
FROM python:3.11.13-slim-bookworm

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    FORECAST_HOME=/data

WORKDIR /app

# Dependencies first, read from pyproject.toml (the one list), in their own layer so that a
# code change does not reinstall TensorFlow. On x86_64 the project's own marker selects
# tensorflow-cpu. bokeh only serves the Dask dashboard (compose profile `dask`).
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['dask']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt "bokeh>=3.1"

# Then the project itself; its dependencies are already satisfied, `pip check` proves it.
COPY . .
RUN pip install ".[dask]" && pip check && rm -rf build ./*.egg-info

# Non-root. /data is created owned by `app` so a fresh named volume mounted there
# (FORECAST_HOME) inherits that owner.
RUN useradd --system --uid 10001 --create-home --home-dir /home/app app \
    && mkdir -p /data && chown app:app /data
USER app

CMD ["forecast", "--help"]
