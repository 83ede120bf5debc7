#!/usr/bin/env python3
"""TCP probes from a peer network namespace, for scripts/systemd-test.sh.

fw6 drops what it does not let in, so a SYN to a port with no listener tells the two apart:
a reset (connection refused) or a connection means the firewall accepted the packet, silence
means it dropped it.

  systemd-probe.py once ADDR PORT       prints "accepted" or "dropped" (waits at most 1 s)
  systemd-probe.py accepts ADDR PORT    the same, but tries up to 5 times before "dropped"
  systemd-probe.py watch ADDR PORT FILE prints "running", probes until FILE exists,
                                        then prints "attempts=N accepted=M first=S last=S" (seconds from
                                        the start of the first and last accepted probe)
"""

import errno
import os
import select
import socket
import sys
import time

# A dropped SYN is retransmitted after 1 s, so a shorter wait sees only the first SYN's fate.
ONCE_WAIT = 1.0
WATCH_WAIT = 0.01
# Tries of an `accepts`: the first SYN may wait for neighbour discovery on a loaded machine.
ACCEPTS_TRIES = 5
# A watch never runs longer than this, whatever happens to its stop file.
WATCH_LIMIT = 120.0


def attempt(addr: str, port: int, wait: float) -> bool:
    """One SYN: True if it was accepted (connected or reset), False if unanswered."""
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        s.setblocking(False)
        rc = s.connect_ex((addr, port))
        if rc == 0:
            return True
        if rc != errno.EINPROGRESS:
            return rc == errno.ECONNREFUSED
        _, writable, _ = select.select([], [s], [], wait)
        if not writable:
            return False
        rc = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        return rc in (0, errno.ECONNREFUSED)
    finally:
        s.close()


def main() -> int:
    mode, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "once":
        print("accepted" if attempt(addr, port, ONCE_WAIT) else "dropped")
        return 0
    if mode == "accepts":
        ok = any(attempt(addr, port, ONCE_WAIT) for _ in range(ACCEPTS_TRIES))
        print("accepted" if ok else "dropped")
        return 0
    if mode == "watch":
        stop = sys.argv[4]
        print("running", flush=True)
        start = time.monotonic()
        attempts = accepted = 0
        first = last = -1.0
        while not os.path.exists(stop) and time.monotonic() - start < WATCH_LIMIT:
            t = time.monotonic() - start
            attempts += 1
            if attempt(addr, port, WATCH_WAIT):
                accepted += 1
                first = t if first < 0 else first
                last = t
        print(f"attempts={attempts} accepted={accepted} first={first:.3f} last={last:.3f}")
        return 0
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
