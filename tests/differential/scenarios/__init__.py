"""The scripted call sequences, in the order they run; each is `(name, function(recorder))`."""

from . import registry, tracking

SCENARIOS = [
    *tracking.SCENARIOS,
    *registry.SCENARIOS,
]
