"""`skilltrack demo`: made-up usage, through the ingest and the stores, in a database of its own."""
