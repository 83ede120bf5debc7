/*
 * A program that forgets to release enumerators: valgrind must call it a leak, which shows
 * that the clean runs of tests/c_example.rs are a real check (tests/c_example.rs).
 */
#include <fw6.h>
#include <stdio.h>

/* Three made and forgotten: a stale copy of the last pointer may survive in a stack slot that
 * valgrind scans at exit, but not of the first two. */
static int forget_enumerators(fw6_connection *c)
{
    for (int i = 0; i < 3; i++) {
        fw6_port_enum *e = NULL;
        if (fw6_connection_enumerate_open_ports(c, &e) != FW6_S_OK)
            return 1;
    }
    return 0;
}

int main(void)
{
    fw6_manager *m = NULL;
    fw6_connection *c = NULL;

    if (fw6_manager_new(&m) != FW6_S_OK || fw6_manager_get_connection(m, "lan0", &c) != FW6_S_OK ||
        forget_enumerators(c) != 0) {
        fprintf(stderr, "cannot reach fw6d\n");
        return 1;
    }
    fw6_connection_release(c);
    fw6_manager_release(m);
    return 0;
}
