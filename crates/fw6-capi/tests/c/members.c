/*
 * Every member of libfw6 against a real fw6d (tests/c_example.rs runs it in a namespace lab,
 * also under valgrind): the ICF semantics, the enumerators' Next/Skip/Reset/Clone/Count over
 * one snapshot, and the boundary rules (null pointers, invalid UTF-8, out-of-range values,
 * released and wrong-kind handles, the per-thread last error). Prints "N passed, N failed".
 * Expects connections lan0 and wan0, and a fresh daemon.
 */
#include <fw6.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static int passed, failed;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            passed++;                                                                    \
        } else {                                                                         \
            failed++;                                                                    \
            const char *m = fw6_last_error_message();                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__,       \
                    __LINE__, #cond, m ? m : "(none)");                                  \
        }                                                                                \
    } while (0)

#define OK(call) CHECK((call) == FW6_S_OK)
#define HR(call, expected) CHECK((call) == (expected))

static bool last_error_mentions(const char *needle)
{
    const char *m = fw6_last_error_message();
    return m != NULL && strstr(m, needle) != NULL;
}

/* The name of the one entry of `e` with this pair, or "" (caller frees). */
static char *name_in(fw6_port_enum *e, uint16_t port, fw6_protocol protocol)
{
    fw6_port *p = NULL;
    char *found = NULL;
    fw6_port_enum_reset(e);
    while (fw6_port_enum_next(e, 1, &p, NULL) == FW6_S_OK) {
        uint16_t n = 0;
        fw6_protocol proto = 0;
        fw6_port_get_port(p, &n);
        fw6_port_get_protocol(p, &proto);
        if (n == port && proto == protocol && found == NULL)
            fw6_port_get_name(p, &found);
        fw6_port_release(p);
    }
    return found;
}

static void *other_thread(void *arg)
{
    (void)arg;
    /* A failure here leaves its message on this thread only. */
    fw6_manager_new(NULL);
    return (void *)(fw6_last_error_message() != NULL ? (void *)1 : NULL);
}

static void boundary(fw6_manager *m, fw6_connection *c)
{
    fw6_connection *none = (fw6_connection *)1;
    bool flag = false;

    HR(fw6_manager_new(NULL), FW6_E_POINTER);
    CHECK(last_error_mentions("null pointer"));
    CHECK(fw6_last_error_hresult() == FW6_E_POINTER);
    fw6_manager *other = (fw6_manager *)1;
    HR(fw6_manager_new_at(NULL, &other), FW6_E_POINTER);
    CHECK(other == NULL);
    HR(fw6_manager_new_at("no-such-transport:x=1", &other), FW6_E_INVALIDARG);
    HR(fw6_manager_get_connection(NULL, "lan0", &none), FW6_E_POINTER);
    CHECK(none == NULL); /* the out-parameter is cleared on failure */
    HR(fw6_manager_get_connection(m, NULL, &none), FW6_E_POINTER);
    HR(fw6_manager_get_connection(m, "lan0", NULL), FW6_E_POINTER);
    HR(fw6_manager_get_connection(m, "\xff\xfe", &none), FW6_E_INVALIDARG);
    CHECK(last_error_mentions("UTF-8"));
    HR(fw6_manager_get_connection(m, "nosuch9", &none), FW6_E_INVALIDARG);
    CHECK(fw6_last_error_message() != NULL);

    HR(fw6_connection_open_port(c, 0, FW6_PROTOCOL_TCP, "x"), FW6_E_INVALIDARG);
    CHECK(last_error_mentions("out of range"));
    HR(fw6_connection_open_port(c, 80, 99, "x"), FW6_E_INVALIDARG);
    HR(fw6_connection_open_port(c, 80, -6, "x"), FW6_E_INVALIDARG);
    HR(fw6_connection_open_port(c, 80, FW6_PROTOCOL_TCP, NULL), FW6_E_POINTER);
    HR(fw6_connection_open_port(c, 80, FW6_PROTOCOL_TCP, "bad \xc3\x28"), FW6_E_INVALIDARG);
    HR(fw6_connection_is_port_open(c, 80, FW6_PROTOCOL_TCP, NULL), FW6_E_POINTER);
    HR(fw6_connection_is_port_open(NULL, 80, FW6_PROTOCOL_TCP, &flag), FW6_E_POINTER);
    HR(fw6_manager_is_port_globally_open(m, 0, FW6_PROTOCOL_UDP, &flag), FW6_E_INVALIDARG);
    HR(fw6_manager_put_logfile_maximum_size(m, 0), FW6_E_INVALIDARG);
    HR(fw6_manager_put_logfile_maximum_size(m, 40000), FW6_E_INVALIDARG);
    HR(fw6_manager_put_logfile_path(m, "relative.log"), FW6_E_INVALIDARG);
    HR(fw6_manager_put_logfile_path(m, NULL), FW6_E_POINTER);
    CHECK(fw6_connection_open_port(c, 80, FW6_PROTOCOL_TCP, "x") == FW6_S_OK &&
          fw6_connection_is_port_open(c, 80, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && flag);
    OK(fw6_connection_close_port(c, 80, FW6_PROTOCOL_TCP));
    CHECK(fw6_last_error_message() == NULL); /* a success clears it */
    CHECK(fw6_last_error_hresult() == FW6_S_OK);

    /* Released, double-released and wrong-kind handles. */
    fw6_connection *dup = NULL;
    OK(fw6_manager_get_connection(m, "wan0", &dup));
    OK(fw6_connection_release(dup));
    HR(fw6_connection_get_is_firewalled(dup, &flag), FW6_E_POINTER);
    CHECK(last_error_mentions("not live"));
    HR(fw6_connection_release(dup), FW6_E_POINTER);
    HR(fw6_connection_get_is_firewalled((fw6_connection *)m, &flag), FW6_E_POINTER);
    HR(fw6_manager_release((fw6_manager *)c), FW6_E_POINTER);
    OK(fw6_connection_release(NULL));
    fw6_string_free(NULL);

    /* The last error is per thread. */
    pthread_t t;
    void *other_had_message = NULL;
    OK(fw6_connection_is_port_open(c, 81, FW6_PROTOCOL_TCP, &flag));
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    CHECK(pthread_join(t, &other_had_message) == 0);
    CHECK(other_had_message != NULL);
    CHECK(fw6_last_error_message() == NULL);
}

static void connection_members(fw6_manager *m, fw6_connection *c)
{
    char *name = NULL, *id = NULL;
    bool flag = false;

    OK(fw6_connection_get_name(c, &name));
    CHECK(name && strcmp(name, "lan0") == 0);
    OK(fw6_connection_get_id(c, &id));
    CHECK(id && id[0] == '{' && strlen(id) == 38);
    fw6_connection *by_id = NULL;
    char *id2 = NULL;
    OK(fw6_manager_get_connection(m, id, &by_id));
    OK(fw6_connection_get_id(by_id, &id2));
    CHECK(id2 && strcmp(id, id2) == 0);
    fw6_string_free(id2);
    fw6_connection_release(by_id);
    fw6_string_free(name);
    fw6_string_free(id);

    OK(fw6_connection_enable_firewall(c));
    OK(fw6_connection_enable_firewall(c)); /* idempotent */
    CHECK(fw6_connection_get_is_firewalled(c, &flag) == FW6_S_OK && flag);
    OK(fw6_connection_disable_firewall(c));
    CHECK(fw6_connection_get_is_firewalled(c, &flag) == FW6_S_OK && !flag);
    OK(fw6_connection_enable_firewall(c));

    OK(fw6_connection_open_port(c, 27015, FW6_PROTOCOL_UDP, "game"));
    OK(fw6_connection_open_port(c, 27015, FW6_PROTOCOL_UDP, "another")); /* first name stays */
    CHECK(fw6_connection_is_port_open(c, 27015, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && flag);
    CHECK(fw6_connection_is_port_open(c, 27015, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && !flag);
    fw6_port_enum *e = NULL;
    OK(fw6_connection_enumerate_open_ports(c, &e));
    char *stored = name_in(e, 27015, FW6_PROTOCOL_UDP);
    CHECK(stored && strcmp(stored, "game") == 0);
    fw6_string_free(stored);
    fw6_port_enum_release(e);
    OK(fw6_connection_close_port(c, 27015, FW6_PROTOCOL_UDP));
    OK(fw6_connection_close_port(c, 27015, FW6_PROTOCOL_UDP)); /* idempotent */
    CHECK(fw6_connection_is_port_open(c, 27015, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && !flag);

    /* An opening that ends on its own: Explain says until when; a lifetime out of range
       (0, over 30 days) is refused and opens nothing. */
    OK(fw6_connection_open_port_for(c, 27016, FW6_PROTOCOL_UDP, "timed", 600));
    CHECK(fw6_connection_is_port_open(c, 27016, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && flag);
    char *why = NULL, *until = NULL;
    bool passes = false;
    OK(fw6_connection_explain(c, 27016, FW6_PROTOCOL_UDP, &passes, &why, &until));
    CHECK(passes && until && strstr(until, "open until") != NULL);
    fw6_string_free(why);
    fw6_string_free(until);
    HR(fw6_connection_open_port_for(c, 27017, FW6_PROTOCOL_UDP, "never", 0), FW6_E_INVALIDARG);
    HR(fw6_connection_open_port_for(c, 27017, FW6_PROTOCOL_UDP, "never", 2592001),
       FW6_E_INVALIDARG);
    HR(fw6_connection_open_port_for(c, 27017, FW6_PROTOCOL_UDP, NULL, 60), FW6_E_POINTER);
    CHECK(fw6_connection_is_port_open(c, 27017, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && !flag);
    OK(fw6_connection_close_port(c, 27016, FW6_PROTOCOL_UDP));

    OK(fw6_connection_ignore_global_port(c, 53, FW6_PROTOCOL_UDP, "no dns here"));
    CHECK(fw6_connection_is_global_port_ignored(c, 53, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && flag);
    OK(fw6_connection_enumerate_ignored_global_ports(c, &e));
    stored = name_in(e, 53, FW6_PROTOCOL_UDP);
    CHECK(stored && strcmp(stored, "no dns here") == 0);
    fw6_string_free(stored);
    fw6_port_enum_release(e);
    fw6_port_collection *pc = NULL;
    uint32_t count = 0;
    OK(fw6_connection_get_ignored_global_ports(c, &pc));
    CHECK(fw6_port_collection_get_count(pc, &count) == FW6_S_OK && count == 1);
    fw6_port_collection_release(pc);
    bool allowed = true;
    char *reason = NULL, *sentence = NULL;
    OK(fw6_connection_explain(c, 53, FW6_PROTOCOL_UDP, &allowed, &reason, &sentence));
    CHECK(!allowed && reason && sentence && strcmp(reason, "not-open") == 0 && sentence[0] != '\0');
    fw6_string_free(reason);
    fw6_string_free(sentence);
    HR(fw6_connection_explain(c, 53, FW6_PROTOCOL_UDP, &allowed, NULL, &sentence), FW6_E_POINTER);
    OK(fw6_connection_observe_global_port(c, 53, FW6_PROTOCOL_UDP));
    CHECK(fw6_connection_is_global_port_ignored(c, 53, FW6_PROTOCOL_UDP, &flag) == FW6_S_OK && !flag);
}

static void manager_members(fw6_manager *m)
{
    bool flag = false;
    uint32_t kib = 0;
    char *path = NULL;
    fw6_port_collection *pc = NULL;
    uint32_t before = 0, count = 0;

    OK(fw6_manager_get_globally_open_ports(m, &pc));
    OK(fw6_port_collection_get_count(pc, &before));
    fw6_port_collection_release(pc);
    OK(fw6_manager_open_global_port(m, 443, FW6_PROTOCOL_TCP, "https"));
    CHECK(fw6_manager_is_port_globally_open(m, 443, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && flag);
    fw6_port_enum *e = NULL;
    OK(fw6_manager_enumerate_globally_open_ports(m, &e));
    char *stored = name_in(e, 443, FW6_PROTOCOL_TCP);
    CHECK(stored && strcmp(stored, "https") == 0);
    fw6_string_free(stored);
    fw6_port_enum_release(e);
    OK(fw6_manager_get_globally_open_ports(m, &pc));
    CHECK(fw6_port_collection_get_count(pc, &count) == FW6_S_OK && count == before + 1);
    fw6_port_collection_release(pc);
    OK(fw6_manager_close_global_port(m, 443, FW6_PROTOCOL_TCP));
    CHECK(fw6_manager_is_port_globally_open(m, 443, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && !flag);
    OK(fw6_manager_open_global_port_for(m, 8443, FW6_PROTOCOL_TCP, "timed", 600));
    CHECK(fw6_manager_is_port_globally_open(m, 8443, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && flag);
    HR(fw6_manager_open_global_port_for(m, 8444, FW6_PROTOCOL_TCP, "never", 0), FW6_E_INVALIDARG);
    CHECK(fw6_manager_is_port_globally_open(m, 8444, FW6_PROTOCOL_TCP, &flag) == FW6_S_OK && !flag);
    OK(fw6_manager_close_global_port(m, 8443, FW6_PROTOCOL_TCP));

    OK(fw6_manager_put_logfile_path(m, "/var/log/fw6/members.log"));
    OK(fw6_manager_get_logfile_path(m, &path));
    CHECK(path && strcmp(path, "/var/log/fw6/members.log") == 0);
    fw6_string_free(path);
    OK(fw6_manager_put_logfile_maximum_size(m, 1024));
    CHECK(fw6_manager_get_logfile_maximum_size(m, &kib) == FW6_S_OK && kib == 1024);
    OK(fw6_manager_put_log_dropped_packets(m, true));
    CHECK(fw6_manager_get_log_dropped_packets(m, &flag) == FW6_S_OK && flag);
    OK(fw6_manager_put_log_dropped_packets(m, false));
    CHECK(fw6_manager_get_log_dropped_packets(m, &flag) == FW6_S_OK && !flag);
    OK(fw6_manager_put_log_connections(m, true));
    CHECK(fw6_manager_get_log_connections(m, &flag) == FW6_S_OK && flag);
    OK(fw6_manager_put_log_connections(m, false));
    CHECK(fw6_manager_get_log_connections(m, &flag) == FW6_S_OK && !flag);
}

static void port_enumerators(fw6_connection *c)
{
    fw6_port_enum *e = NULL, *copy = NULL;
    fw6_port *items[4] = {0};
    uint32_t fetched = 99, count = 0;
    uint16_t port = 0;

    OK(fw6_connection_open_port(c, 1001, FW6_PROTOCOL_TCP, "a"));
    OK(fw6_connection_open_port(c, 1002, FW6_PROTOCOL_TCP, "b"));
    OK(fw6_connection_open_port(c, 1003, FW6_PROTOCOL_UDP, "c"));
    OK(fw6_connection_enumerate_open_ports(c, &e));
    /* One snapshot: later opens are absent, later closes still present. */
    OK(fw6_connection_open_port(c, 1004, FW6_PROTOCOL_TCP, "d"));
    OK(fw6_connection_close_port(c, 1001, FW6_PROTOCOL_TCP));
    CHECK(fw6_port_enum_count(e, &count) == FW6_S_OK && count == 3);

    HR(fw6_port_enum_next(e, 2, items, NULL), FW6_E_POINTER); /* NULL fetched only for 1 */
    HR(fw6_port_enum_next(e, 1, NULL, &fetched), FW6_E_POINTER);
    HR(fw6_port_enum_next(e, 2, items, &fetched), FW6_S_OK);
    CHECK(fetched == 2);
    CHECK(fw6_port_get_port(items[0], &port) == FW6_S_OK && port == 1001);
    CHECK(fw6_port_get_port(items[1], &port) == FW6_S_OK && port == 1002);
    fw6_port_release(items[0]);
    fw6_port_release(items[1]);
    HR(fw6_port_enum_next(e, 2, items, &fetched), FW6_S_FALSE); /* fewer at the end */
    CHECK(fetched == 1);
    fw6_protocol proto = 0;
    CHECK(fw6_port_get_protocol(items[0], &proto) == FW6_S_OK && proto == FW6_PROTOCOL_UDP);
    fw6_port_release(items[0]);
    HR(fw6_port_enum_next(e, 2, items, &fetched), FW6_S_FALSE);
    CHECK(fetched == 0);
    HR(fw6_port_enum_next(e, 0, NULL, &fetched), FW6_S_OK);

    OK(fw6_port_enum_reset(e));
    OK(fw6_port_enum_skip(e, 1));
    OK(fw6_port_enum_clone(e, &copy));
    HR(fw6_port_enum_next(copy, 4, items, &fetched), FW6_S_FALSE);
    CHECK(fetched == 2);
    for (uint32_t i = 0; i < fetched; i++)
        fw6_port_release(items[i]);
    /* The clone's cursor moved, the original's did not. */
    HR(fw6_port_enum_next(e, 1, items, NULL), FW6_S_OK);
    CHECK(fw6_port_get_port(items[0], &port) == FW6_S_OK && port == 1002);
    fw6_port_release(items[0]);
    HR(fw6_port_enum_skip(e, 5), FW6_S_FALSE);
    HR(fw6_port_enum_next(e, 1, items, NULL), FW6_S_FALSE);
    fw6_port_enum_release(copy);
    fw6_port_enum_release(e);

    fw6_port_collection *pc = NULL;
    OK(fw6_connection_get_open_ports(c, &pc));
    CHECK(fw6_port_collection_get_count(pc, &count) == FW6_S_OK && count == 3);
    OK(fw6_port_collection_get_new_enum(pc, &e));
    OK(fw6_port_collection_release(pc)); /* its enumerators stay valid */
    HR(fw6_port_enum_next(e, 4, items, &fetched), FW6_S_FALSE);
    CHECK(fetched == 3);
    for (uint32_t i = 0; i < fetched; i++)
        fw6_port_release(items[i]);
    HR(fw6_port_enum_release(e), FW6_S_OK);
    HR(fw6_port_enum_release(e), FW6_E_POINTER);
    HR(fw6_port_enum_next(e, 1, items, NULL), FW6_E_POINTER);

    OK(fw6_connection_close_port(c, 1002, FW6_PROTOCOL_TCP));
    OK(fw6_connection_close_port(c, 1003, FW6_PROTOCOL_UDP));
    OK(fw6_connection_close_port(c, 1004, FW6_PROTOCOL_TCP));
}

static void connection_enumerators(fw6_manager *m)
{
    fw6_connection_enum *e = NULL, *copy = NULL;
    fw6_connection *items[8] = {0};
    uint32_t fetched = 0, count = 0;
    int seen = 0;

    OK(fw6_manager_enumerate_connections(m, &e));
    CHECK(fw6_connection_enum_count(e, &count) == FW6_S_OK && count >= 2 && count <= 8);
    HR(fw6_connection_enum_next(e, 8, items, &fetched), FW6_S_FALSE);
    CHECK(fetched == count);
    for (uint32_t i = 0; i < fetched; i++) {
        char *name = NULL;
        if (fw6_connection_get_name(items[i], &name) == FW6_S_OK &&
            (strcmp(name, "lan0") == 0 || strcmp(name, "wan0") == 0))
            seen++;
        fw6_string_free(name);
        fw6_connection_release(items[i]);
    }
    CHECK(seen == 2);
    OK(fw6_connection_enum_reset(e));
    OK(fw6_connection_enum_skip(e, 1));
    OK(fw6_connection_enum_clone(e, &copy));
    HR(fw6_connection_enum_skip(copy, count), FW6_S_FALSE);
    HR(fw6_connection_enum_next(copy, 1, items, NULL), FW6_S_FALSE);
    HR(fw6_connection_enum_next(e, 1, items, NULL), FW6_S_OK);
    fw6_connection_release(items[0]);
    fw6_connection_enum_release(copy);
    fw6_connection_enum_release(e);

    fw6_connection_collection *cc = NULL;
    uint32_t ccount = 0;
    OK(fw6_manager_get_connections(m, &cc));
    CHECK(fw6_connection_collection_get_count(cc, &ccount) == FW6_S_OK && ccount == count);
    OK(fw6_connection_collection_get_new_enum(cc, &e));
    HR(fw6_connection_enum_next(e, 8, items, &fetched), FW6_S_FALSE);
    CHECK(fetched == ccount);
    for (uint32_t i = 0; i < fetched; i++)
        fw6_connection_release(items[i]);
    fw6_connection_enum_release(e);
    fw6_connection_collection_release(cc);
}

int main(void)
{
    fw6_manager *m = NULL;
    fw6_connection *c = NULL;

    if (fw6_manager_new(&m) != FW6_S_OK || fw6_manager_get_connection(m, "lan0", &c) != FW6_S_OK) {
        const char *msg = fw6_last_error_message();
        fprintf(stderr, "cannot reach fw6d: %s\n", msg ? msg : "");
        return 1;
    }
    boundary(m, c);
    connection_members(m, c);
    manager_members(m);
    port_enumerators(c);
    connection_enumerators(m);
    OK(fw6_connection_release(c));
    OK(fw6_manager_release(m));
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
