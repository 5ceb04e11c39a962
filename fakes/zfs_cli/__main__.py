"""``python -m fakes.zfs_cli``: run ``fake-zfs`` as a process."""

import sys

from .dispatch import main

sys.exit(main())
