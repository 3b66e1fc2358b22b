"""The scripted call sequences, in the order they run; each is `(name, function(recorder))`."""

from . import models_artifacts, registry, tracking, wire

SCENARIOS = [
    *tracking.SCENARIOS,
    *registry.SCENARIOS,
    *models_artifacts.SCENARIOS,
    *wire.SCENARIOS,
]
