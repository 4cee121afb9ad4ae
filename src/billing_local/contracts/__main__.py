"""`python -m billing_local.contracts --write` (rewrite schemas/ and docs/asyncapi.yaml) or `--check`."""

import sys

from .cli import main

sys.exit(main())
