# skilltrack's hook as the plugin runs it: hooks/hooks.json has Claude Code's /bin/sh source
# this file (`. "${CLAUDE_PLUGIN_ROOT}/hooks/skilltrack_hook.sh"`), which then execs Python on
# skilltrack_hook.py. Sourced and exec'd, so that no process runs but the interpreter; POSIX
# sh builtins only.
#
# The plugin cannot name an interpreter as skilltrack-install does: it runs `python3` from
# PATH. Where that is a version manager's shim (pyenv, asdf, mise), the shim costs ~100 ms on
# every tool call. So the first run goes through PATH (`--resolve`), and the hook writes the
# interpreter behind it (its sys.executable) to run/hook-python in skilltrack's state dir;
# later runs exec that one directly (`--cached`), as long as it is still executable and the
# file is no older than this plugin's hook (an update or a reinstall resolves it anew). A
# cached interpreter that has become too old sends the hook to its fallback, which keeps the
# event and removes the file. Delete the file to make the next run look again.
#
# The state dir as skilltrack/paths.py computes it (tests/test_plugin_launcher.py proves it):
# $SKILLTRACK_HOME, else $XDG_STATE_HOME/skilltrack if absolute, else the platform's. Without
# an absolute $HOME, nothing is cached.
skilltrack_hook=$CLAUDE_PLUGIN_ROOT/hooks/skilltrack_hook.py
skilltrack_state=
if [ -n "${SKILLTRACK_HOME-}" ]; then
    case $SKILLTRACK_HOME in
    /*) skilltrack_state=$SKILLTRACK_HOME ;;
    *) skilltrack_state=$PWD/$SKILLTRACK_HOME ;;
    esac
else
    case ${XDG_STATE_HOME-} in
    /*) skilltrack_state=$XDG_STATE_HOME/skilltrack ;;
    *)
        case ${HOME-} in
        /*)
            # macOS's /bin/sh is bash, which sets OSTYPE; dash (Debian's) does not.
            case ${OSTYPE-} in
            darwin*) skilltrack_state="$HOME/Library/Application Support/skilltrack" ;;
            *) skilltrack_state=$HOME/.local/state/skilltrack ;;
            esac
            ;;
        esac
        ;;
    esac
fi
if [ -z "$skilltrack_state" ]; then
    exec python3 -E -s -S "$skilltrack_hook"
fi
skilltrack_cache=$skilltrack_state/run/hook-python
# Tracking paused (skilltrack pause, or enabled = false): the marker is a file of the user's
# (as the hook judges it), so no Python starts at all. cat reads the event away, so that
# Claude Code never writes into a closed pipe.
skilltrack_paused=$skilltrack_state/run/paused
if [ -f "$skilltrack_paused" ] && [ ! -h "$skilltrack_paused" ] && [ -O "$skilltrack_paused" ] &&
    command -v cat >/dev/null 2>&1; then
    exec cat >/dev/null 2>&1
fi
# It names what runs as this user: only a file of theirs (not a link; -O: owned by the
# effective uid), as the hook writes it, and only into a run directory of theirs alone.
if [ -f "$skilltrack_cache" ] && [ ! -h "$skilltrack_cache" ] && [ -O "$skilltrack_cache" ] &&
    [ ! "$skilltrack_hook" -nt "$skilltrack_cache" ] &&
    read -r skilltrack_python <"$skilltrack_cache" && [ -x "$skilltrack_python" ]; then
    exec "$skilltrack_python" -I -S "$skilltrack_hook" --cached "$skilltrack_cache"
fi
# -E -s -S rather than -I -S: a python3 too old for -I (2.7) still runs the hook's script,
# and its fallback keeps the event.
exec python3 -E -s -S "$skilltrack_hook" --resolve "$skilltrack_cache"
