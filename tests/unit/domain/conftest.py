"""Domain test setup: puts the shared builders module (domain_builders.py) on the path."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
