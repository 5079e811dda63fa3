"""``python -m dockyard.registry``: see :mod:`dockyard.registry.main`."""

from __future__ import annotations

import sys

from dockyard.registry.main import main

sys.exit(main())
