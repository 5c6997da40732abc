"""`python -m sandwich ...` is the `sandwich` command."""

import sys

from sandwich.cli import main

sys.exit(main())
