"""``python -m drivestack``: the same as the ``drivestack`` command."""

from drivestack.cli import main

raise SystemExit(main())
