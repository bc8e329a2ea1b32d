"""The running daemon: its lifecycle, connections, write buffer, spool and instance lock."""
