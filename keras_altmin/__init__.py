"""keras-altmin: training Keras networks by online alternating minimization.

Choromanska et al., "Beyond Backprop: Online Alternating Minimization with
Auxiliary Variables", ICML 2019.
"""

from keras_altmin import datasets
from keras_altmin import layers
from keras_altmin import tuning
from keras_altmin.model import AltMinModel
from keras_altmin.schedules import MuSchedule

__version__ = "0.1.0"

__all__ = ["AltMinModel", "MuSchedule", "datasets", "layers", "tuning"]
