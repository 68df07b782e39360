"""Allow `python -m podtui`."""

from podtui.cli import main

raise SystemExit(main())
