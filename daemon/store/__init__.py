"""SQLite: the one connection that writes, the schema and its migrations, the outbox's SQL."""
