"""`python -m nas_pattern.bench`."""

import sys

from nas_pattern.bench.cli import main

sys.exit(main())
