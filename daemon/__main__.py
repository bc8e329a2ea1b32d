from __future__ import annotations

from skilltrack.daemon.cli import main

raise SystemExit(main())
