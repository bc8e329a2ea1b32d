"""Forwarding from the outbox to remote receivers: the sinks and the retry policy."""
