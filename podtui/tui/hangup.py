"""Leaving when the terminal goes away.

When a terminal hangs up (its window closed, its SSH session dropped) the
shell that owns it passes SIGHUP on to the programs it started. A wrapper
that does not (`make run`, for one) leaves podtui on a dead terminal, where
Textual's input thread reads end-of-file in a busy loop and output piles up
unwritten. This watcher notices the hangup itself and ends podtui as SIGHUP
would have; the local pods keep running, as after any quit.
"""

from __future__ import annotations

import os
import select
import signal
import threading

HANGUP = select.POLLHUP | select.POLLERR | select.POLLNVAL


def exit_on_hangup(fd: int) -> None:
    """Watch terminal `fd` in a daemon thread; end the process when it hangs up."""
    if not os.isatty(fd):
        return
    threading.Thread(
        target=_wait_for_hangup, args=(fd,), name="podtui-hangup", daemon=True
    ).start()


def _wait_for_hangup(fd: int) -> None:
    poller = select.poll()
    # Asking for no input: poll wakes only for a hangup or an error.
    poller.register(fd, select.POLLHUP)
    while not any(mask & HANGUP for _, mask in poller.poll()):
        pass
    os.kill(os.getpid(), signal.SIGHUP)
    os._exit(128 + signal.SIGHUP)  # SIGHUP was ignored (nohup): leave all the same
