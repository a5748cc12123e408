"""``python -m mans``: the same as the ``mans`` command."""

from .cli.commands import main

raise SystemExit(main())
