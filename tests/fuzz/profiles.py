"""Hypothesis settings of the fuzz tests: a short run in CI, a long one on demand.

``KEYSEAL_FUZZ_LONG=1`` runs each property with 5,000 examples instead of 150; nothing else
changes, so a failure found in a long run replays in a short one from Hypothesis's database.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "keyseal-ci", max_examples=150, deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
settings.register_profile("keyseal-long", settings.get_profile("keyseal-ci"),
                          max_examples=5000)

LONG = os.environ.get("KEYSEAL_FUZZ_LONG", "").strip() == "1"
#: apply as ``@FUZZ`` under ``@given``: the profile for this run
FUZZ = settings(settings.get_profile("keyseal-long" if LONG else "keyseal-ci"))
