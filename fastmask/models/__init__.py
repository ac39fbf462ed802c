"""Models: `Model` (Functional or subclassed) and `Sequential`; Keras 3 file I/O."""
from .model import Model, model_from_json
from .functional import Functional
from .sequential import Sequential
from ..saving.keras_archive import load_model, save_model
from ..saving.keras_bridge import from_keras
