"""Ctrl-C held back while JAX dispatches a compiled call, then raised as a KeyboardInterrupt.

Why: JAX looks up a compiled program by comparing cache keys, and in doing so its C++ dispatch
calls Python ``__eq__`` methods (of shardings, for one). Python raises the KeyboardInterrupt of a
SIGINT in whatever Python code runs when the signal is handled, so a Ctrl-C that lands inside such
an ``__eq__`` is caught by JAX and comes out as a ``ValueError`` ("Cache keys should be comparable
using __eq__ ..."). The fit then ends in a traceback and loses the draws it had made (CI met this
on Python 3.13). The dispatch itself is quick (the work runs asynchronously after it), so holding
the signal for its length costs the user no wait.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager


@contextmanager
def interrupts_deferred():
    """Run the block with a SIGINT that arrives in it held, and raise KeyboardInterrupt after it.

    Only Python's own handler (``signal.default_int_handler``, which raises KeyboardInterrupt) is
    replaced, and only in the main thread (the only one that may set handlers and the only one
    the signal interrupts); a program that installed a handler of its own, or ignores SIGINT,
    keeps it. An exception raised by the block propagates unchanged.
    """
    if threading.current_thread() is not threading.main_thread() \
            or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        yield
        return
    held = []
    signal.signal(signal.SIGINT, lambda signum, frame: held.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if held:
        raise KeyboardInterrupt
