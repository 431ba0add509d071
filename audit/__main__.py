"""`python -m audit` is `clone-audit`."""

import sys

from audit.cli import main

sys.exit(main())
