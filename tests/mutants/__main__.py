"""``python -m tests.mutants``: see :mod:`tests.mutants.cli`."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
