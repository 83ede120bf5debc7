"""The cost of one call through the Python package: N OpenPort calls on lan0 (ports BASE..,
TCP, each an effective change), then N IsPortOpen calls; prints the median of each in
nanoseconds, after WARMUP uncounted OpenPort calls (ports BASE+N...). Run by `fw6-bench clients`
(crates/fw6-bench/src/clients.rs). Usage: calls.py N BASE"""

import statistics
import sys
import time

import fw6

WARMUP = 20


def main() -> None:
    n, base = int(sys.argv[1]), int(sys.argv[2])
    with fw6.Manager() as manager:
        lan = manager.connection("lan0")
        for i in range(WARMUP):
            lan.open_port(base + n + i, fw6.Protocol.TCP, "warm-up")
        samples = []
        for i in range(n):
            t = time.perf_counter_ns()
            lan.open_port(base + i, fw6.Protocol.TCP, "bench")
            samples.append(time.perf_counter_ns() - t)
        print("open_port", int(statistics.median(samples)))
        samples = []
        for i in range(n):
            t = time.perf_counter_ns()
            assert lan.is_port_open(base + i, fw6.Protocol.TCP)
            samples.append(time.perf_counter_ns() - t)
        print("is_port_open", int(statistics.median(samples)))


main()
