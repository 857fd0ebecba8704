"""pricecast: nightly price forecasting with Prefect, Keras and MLflow.

The distribution maps the repository's top-level folders under this package:
``flows/`` → ``pricecast.flows``, ``tasks/`` → ``pricecast.tasks``,
``models/`` → ``pricecast.models`` and ``configs/`` → ``pricecast.configs``.
"""

__version__ = "0.1.0"

# yfinance's HTTP client, curl_cffi, has to be loaded before TensorFlow: once TensorFlow's
# bundled libcurl is in the process first, curl-impersonate's browser profiles are not
# found and every Yahoo request fails with "Impersonating chrome… is not supported".
# Every entry point (the CLI, Prefect and Dask workers, tests) imports this package first.
import curl_cffi  # noqa: E402, F401
