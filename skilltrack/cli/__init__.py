"""The command-line front ends: `skilltrack`, `skilltrack-daemon` and `skilltrack-install`."""
