"""A trained run is a model: ``load_run`` reads one back (``RunModel``: predict, predict_proba,
attention, evaluate on raw data), ``EleAttClassifier`` trains one behind scikit-learn's conventions."""

from .estimator import EleAttClassifier
from .run import RunModel, find_checkpoint, load_run

__all__ = ["load_run", "RunModel", "find_checkpoint", "EleAttClassifier"]
