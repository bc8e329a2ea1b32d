"""From a hook's frame to a record to store: sanitize, validate, classify, enrich."""
