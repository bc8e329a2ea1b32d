"""From a hook's frame to a record to store: validate, sanitize, classify, enrich (pure)."""
