"""How the commands use the database: read it if it exists, write beside the running daemon.

Reading never creates a database (nothing recorded yet is an empty answer); writing waits its
turn behind the daemon's commits rather than failing at once. The store's libraries and the
event loop are loaded when the database is used, not when a command imports this module.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from skilltrack.paths import Paths, check_private_dir

if TYPE_CHECKING:
    from skilltrack.daemon.store.database import Store

WRITE_WAIT_MS = 5_000  # a command waits this long for the daemon's commit to finish

S = TypeVar("S", bound="Store")
T = TypeVar("T")


def read(paths: Paths, kind: type[S], query: Callable[[S], Awaitable[T]], empty: T) -> T:
    """`query` on a read-only `kind` store, or `empty` when there is no database yet."""
    return _use(paths, kind, query, empty, write=False)


def read_rows(
    paths: Paths, kind: type[S], query: Callable[[S], Awaitable[list[dict[str, Any]]]]
) -> list[dict[str, Any]]:
    """`read` of a query that returns rows: none when there is no database yet."""
    none: list[dict[str, Any]] = []
    return read(paths, kind, query, none)


def write(paths: Paths, kind: type[S], action: Callable[[S], Awaitable[T]], empty: T) -> T:
    """`action` on a writable `kind` store, or `empty` when there is no database yet."""
    return _use(paths, kind, action, empty, write=True)


def _use(
    paths: Paths, kind: type[S], use: Callable[[S], Awaitable[T]], empty: T, *, write: bool
) -> T:
    if not paths.db.exists():
        return empty
    check_private_dir(paths.data_dir)  # else others could read the database, or swap it
    import asyncio

    async def run() -> T:
        if write:
            store = await kind.open(paths.db, busy_timeout_ms=WRITE_WAIT_MS)
        else:
            store = await kind.open_readonly(paths.db)
        try:
            return await use(store)
        finally:
            await store.close()

    return asyncio.run(run())
