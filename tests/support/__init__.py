"""What the test modules share; conftest.py holds only fixtures, and no test module imports
another.

- `events`: a hook event's stdin, the frames and spool records the hook writes, store rows,
  and generated usage with known answers for the reports.
- `home`: an isolated SKILLTRACK_HOME with the real hook (a subprocess), a real daemon
  process, the commands run in-process, and bounded waits that show the daemon's log and
  stderr when they time out.
- `cli`: a console script's `main(argv)` called in-process, its output captured.
- `load`: concurrent real hooks as a busy session's load, and daemons killed under it.
- `receiver` and `forwarding`: a real local HTTP receiver, and the sinks pointing at it.
- `browser`: a real headless Chromium for the dashboard.
- `model` and `claude_code`: a scripted model server and the sandbox in which the real
  Claude Code runs for the end-to-end tests.
- `secrets`: the sanitizer's corpus of realistic (fake) secrets and look-alikes.
"""
