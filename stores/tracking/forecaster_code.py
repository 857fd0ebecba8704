"""The registered forecaster's pyfunc, logged as code (MLflow "models from code").

MLflow copies this file beside the model's data files; loading the pyfunc runs it to
get the model object instead of unpickling one (see ``registry.log_forecaster``).
"""

from mlflow.models import set_model

from pricecast.stores.tracking.registry import ForecasterModel

set_model(ForecasterModel())
