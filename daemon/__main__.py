from __future__ import annotations

from skilltrack.cli.daemon import main

raise SystemExit(main())
