"""skilltrack trusts nothing another user controls: the hook sends nothing to a socket
another user serves, and keeps the event all the same.

Run as root (CI is), with `nobody` as the other user (tests/support/others.py).
"""

from __future__ import annotations

from tests.support.events import payload
from tests.support.home import Home
from tests.support.others import as_root, impostor, with_system_python

# -- the socket ------------------------------------------------------------------------------


@as_root
@with_system_python
def test_a_hook_sends_nothing_to_a_socket_another_user_serves_and_keeps_the_event(
    home: Home,
) -> None:
    home.paths.run_dir.mkdir(mode=0o700)
    with impostor(home.paths.socket) as other:
        result = home.hook(payload(tool_use_id="toolu_secret"))  # autostart allowed

        assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
        assert other.heard == [b""]  # it was connected to, and told nothing
        assert len(home.paths.spool.read_bytes().splitlines()) == 1
        assert not home.paths.lock.exists()  # no daemon started against it
        assert home.live_status() is None  # the commands ask it nothing either
        assert set(other.heard) == {b""}
