"""skilltrack's daemon: receives hook events over a Unix socket and stores them in SQLite."""
