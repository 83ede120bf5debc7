/*
 * The cost of one call through libfw6: N OpenPort calls on lan0 (ports BASE..BASE+N-1, TCP,
 * each an effective change), then N IsPortOpen calls; prints the median of each in
 * nanoseconds, after WARMUP uncounted OpenPort calls (ports BASE+N…). Run by `fw6-bench
 * clients` (crates/fw6-bench/src/clients.rs). Usage: calls N BASE
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <fw6.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define WARMUP 20

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int by_value(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

static long long median(long long *samples, int n)
{
    qsort(samples, (size_t)n, sizeof *samples, by_value);
    return samples[n / 2];
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    int n = atoi(argv[1]);
    int base = atoi(argv[2]);
    long long *samples = calloc((size_t)n, sizeof *samples);
    fw6_manager *m = NULL;
    fw6_connection *lan = NULL;
    bool open = false;

    if (samples == NULL || fw6_manager_new(&m) != FW6_S_OK ||
        fw6_manager_get_connection(m, "lan0", &lan) != FW6_S_OK)
        return 1;
    for (int i = 0; i < WARMUP; i++)
        if (fw6_connection_open_port(lan, (uint16_t)(base + n + i), FW6_PROTOCOL_TCP, "warm-up") != FW6_S_OK)
            return 1;
    for (int i = 0; i < n; i++) {
        long long t = now_ns();
        if (fw6_connection_open_port(lan, (uint16_t)(base + i), FW6_PROTOCOL_TCP, "bench") != FW6_S_OK)
            return 1;
        samples[i] = now_ns() - t;
    }
    printf("open_port %lld\n", median(samples, n));
    for (int i = 0; i < n; i++) {
        long long t = now_ns();
        if (fw6_connection_is_port_open(lan, (uint16_t)(base + i), FW6_PROTOCOL_TCP, &open) != FW6_S_OK || !open)
            return 1;
        samples[i] = now_ns() - t;
    }
    printf("is_port_open %lld\n", median(samples, n));
    fw6_connection_release(lan);
    fw6_manager_release(m);
    free(samples);
    return 0;
}
