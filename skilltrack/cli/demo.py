"""`skilltrack demo`: a month of made-up usage in a database of its own, and `--demo` on the
commands that read, to look at it.

The demo lives in `demo/` under the data directory (laid out as a `SKILLTRACK_HOME` of its
own): nothing of it ever reaches the real database, and the real one is never read for it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from skilltrack.cli.parsing import CommandError
from skilltrack.paths import Paths, ensure_private_dir, under

LOOK = (
    "skilltrack report --demo",
    "skilltrack dashboard --demo",
    "skilltrack events --demo",
    "skilltrack skills --demo",
)


def demo_dir(paths: Paths) -> Path:
    return paths.data_dir / "demo"


def demo_paths(paths: Paths) -> Paths:
    """The demo's paths, for a command run with `--demo`; CommandError if there is none."""
    demo = under(demo_dir(paths))
    if not demo.db.exists():
        raise CommandError("there is no demo data: make it with skilltrack demo")
    return demo


def demo_command(args: argparse.Namespace, paths: Paths) -> int:
    folder = demo_dir(paths)
    if args.remove:
        existed = folder.exists()
        if existed:
            shutil.rmtree(folder)
        if args.json:
            print(json.dumps({"removed": existed, "path": str(folder)}))
        else:
            print(f"removed {folder}" if existed else f"no demo data at {folder}")
        return 0
    import asyncio

    from skilltrack.daemon.demo import month as demo

    began = time.monotonic()
    made = demo.generate(args.seed, time.time(), args.days)
    ensure_private_dir(paths.data_dir)
    if folder.exists():
        shutil.rmtree(folder)  # a demo is made whole, never added to
    ensure_private_dir(folder)
    db = under(folder).db
    asyncio.run(demo.write(made, db))
    seconds = time.monotonic() - began
    requests = sum(len(r) for r in made.requests.values())
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(db),
                    "events": made.events,
                    "sessions": len(made.requests),
                    "requests": requests,
                    "ratings": len(made.ratings),
                    "seconds": round(seconds, 2),
                    "look": list(LOOK),
                }
            )
        )
        return 0
    print(
        f"demo data: {made.events} events in {len(made.requests)} sessions over "
        f"{args.days} day{'s' if args.days != 1 else ''}, {requests} API requests, "
        f"{len(made.ratings)} ratings "
        f"({seconds:.1f}s), in {db}"
    )
    print("look at it with: " + ", ".join(LOOK))
    print("remove it with: skilltrack demo --remove")
    return 0


def dashboard_command(args: argparse.Namespace, paths: Paths) -> int:
    """`skilltrack dashboard --demo`: the demo's dashboard, served by this process (the
    daemon serves the real one only) until interrupted."""
    import asyncio

    from skilltrack.cli.dashboard import _has_display, write_redirect
    from skilltrack.daemon.report.dashboard import Dashboard

    async def serve() -> None:
        dashboard = Dashboard(paths, 0)
        url = await dashboard.start()
        try:
            if args.json:
                print(json.dumps({"url": url}), flush=True)
            else:
                print(url, flush=True)
                print("(the demo's dashboard; Ctrl+C stops it)", file=sys.stderr)
            if not args.no_open and _has_display():
                import webbrowser

                webbrowser.open(write_redirect(paths, url).as_uri())
            await asyncio.Event().wait()  # until Ctrl+C
        finally:
            await dashboard.stop()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass
    return 0
