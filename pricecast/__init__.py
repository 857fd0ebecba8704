"""pricecast: nightly price forecasting with Prefect, Keras and MLflow.

The distribution maps the repository's top-level folders under this package:
``flows/`` → ``pricecast.flows``, ``tasks/`` → ``pricecast.tasks``,
``models/`` → ``pricecast.models`` and ``configs/`` → ``pricecast.configs``.
"""

__version__ = "0.1.0"
