"""Domain test setup: Hypothesis profiles and the shared builders module.

The default profile keeps the suite fast; `HYPOTHESIS_PROFILE=thorough` digs deeper.
"""

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).parent))

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large]
settings.register_profile("billing-domain", max_examples=60, deadline=None, suppress_health_check=_SUPPRESS)
settings.register_profile("thorough", max_examples=2000, deadline=None, suppress_health_check=_SUPPRESS)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "billing-domain"))
