"""`python -m audit` is `clone-audit`."""

import sys

from .cli import main

sys.exit(main())
