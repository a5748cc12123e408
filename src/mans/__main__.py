"""``python -m mans``: the same as the ``mans`` command."""

from .cli import main

raise SystemExit(main())
