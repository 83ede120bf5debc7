/*
 * open_ports: the ICF "basic firewall operation" sample, ported to libfw6.
 *
 *   1. create the manager (fw6d not reachable = the firewall is not installed);
 *   2. walk the connections (INetFwV6Mgr::Connections) and pick one by its Name;
 *   3. switch its firewall on if it is off (IsFirewalled, EnableFirewall);
 *   4. walk its open ports (OpenPorts): if the pair is there under another name, another
 *      program owns it; otherwise OpenPort it with our own name as the tag;
 *   5. print the connection's open ports.
 *
 * Build: cc open_ports.c $(pkg-config --cflags --libs fw6) -o open_ports
 * Run:   ./open_ports lan0 27015 udp "my game"     (FW6_BUS_ADDRESS picks a private bus)
 * SPDX-License-Identifier: MIT OR Apache-2.0
 */
#include <fw6.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, fw6_hresult hr)
{
    const char *message = fw6_last_error_message();
    fprintf(stderr, "%s failed: 0x%08X %s\n", what, (unsigned)hr, message ? message : "");
    return 1;
}

/* Step 2: the connection whose Name is `name`, through the Connections collection. */
static fw6_hresult find_connection(fw6_manager *mgr, const char *name, fw6_connection **found)
{
    fw6_connection_collection *connections = NULL;
    fw6_connection_enum *e = NULL;
    fw6_connection *c = NULL;
    fw6_hresult hr;

    *found = NULL;
    hr = fw6_manager_get_connections(mgr, &connections);
    if (hr != FW6_S_OK)
        return hr;
    hr = fw6_connection_collection_get_new_enum(connections, &e);
    fw6_connection_collection_release(connections);
    if (hr != FW6_S_OK)
        return hr;
    while (*found == NULL && (hr = fw6_connection_enum_next(e, 1, &c, NULL)) == FW6_S_OK) {
        char *c_name = NULL;
        hr = fw6_connection_get_name(c, &c_name);
        if (hr == FW6_S_OK && strcmp(c_name, name) == 0)
            *found = c;
        else
            fw6_connection_release(c);
        fw6_string_free(c_name);
    }
    fw6_connection_enum_release(e);
    return *found ? FW6_S_OK : FW6_S_FALSE;
}

/* Step 4: who owns the pair on this connection: NULL if nobody, else the stored name. */
static fw6_hresult owner_of(fw6_connection *c, uint16_t port, fw6_protocol protocol, char **owner)
{
    fw6_port_collection *ports = NULL;
    fw6_port_enum *e = NULL;
    fw6_port *entry = NULL;
    fw6_hresult hr;

    *owner = NULL;
    hr = fw6_connection_get_open_ports(c, &ports);
    if (hr != FW6_S_OK)
        return hr;
    hr = fw6_port_collection_get_new_enum(ports, &e);
    fw6_port_collection_release(ports);
    if (hr != FW6_S_OK)
        return hr;
    while ((hr = fw6_port_enum_next(e, 1, &entry, NULL)) == FW6_S_OK) {
        uint16_t p = 0;
        fw6_protocol proto = 0;
        fw6_port_get_port(entry, &p);
        fw6_port_get_protocol(entry, &proto);
        if (p == port && proto == protocol && *owner == NULL)
            fw6_port_get_name(entry, owner);
        fw6_port_release(entry);
    }
    fw6_port_enum_release(e);
    return hr == FW6_S_FALSE ? FW6_S_OK : hr;
}

/* Step 5: the connection's open ports, with the native enumerator, several at a time. */
static fw6_hresult print_open_ports(fw6_connection *c)
{
    fw6_port_enum *e = NULL;
    fw6_port *batch[4];
    uint32_t fetched = 0;
    fw6_hresult hr = fw6_connection_enumerate_open_ports(c, &e);

    if (hr != FW6_S_OK)
        return hr;
    do {
        hr = fw6_port_enum_next(e, 4, batch, &fetched);
        for (uint32_t i = 0; i < fetched; i++) {
            uint16_t port = 0;
            fw6_protocol protocol = 0;
            char *name = NULL;
            fw6_port_get_port(batch[i], &port);
            fw6_port_get_protocol(batch[i], &protocol);
            fw6_port_get_name(batch[i], &name);
            printf("open %u/%s %s\n", port, protocol == FW6_PROTOCOL_TCP ? "tcp" : "udp", name);
            fw6_string_free(name);
            fw6_port_release(batch[i]);
        }
    } while (hr == FW6_S_OK);
    fw6_port_enum_release(e);
    return hr == FW6_S_FALSE ? FW6_S_OK : hr;
}

int main(int argc, char **argv)
{
    fw6_manager *mgr = NULL;
    fw6_connection *c = NULL;
    char *owner = NULL;
    bool firewalled = false;
    fw6_hresult hr;
    int status = 1;

    if (argc != 5) {
        fprintf(stderr, "usage: %s CONNECTION-NAME PORT tcp|udp TAG\n", argv[0]);
        return 2;
    }
    const char *connection_name = argv[1];
    const uint16_t port = (uint16_t)strtoul(argv[2], NULL, 10);
    const fw6_protocol protocol = strcmp(argv[3], "tcp") == 0 ? FW6_PROTOCOL_TCP : FW6_PROTOCOL_UDP;
    const char *tag = argv[4];

    hr = fw6_manager_new(&mgr);
    if (hr != FW6_S_OK)
        return fail("creating the manager (is fw6d installed and running?)", hr);

    hr = find_connection(mgr, connection_name, &c);
    if (hr == FW6_S_FALSE) {
        fprintf(stderr, "no connection is named %s\n", connection_name);
        goto out;
    }
    if (hr != FW6_S_OK) {
        fail("Connections", hr);
        goto out;
    }

    hr = fw6_connection_get_is_firewalled(c, &firewalled);
    if (hr != FW6_S_OK) {
        fail("IsFirewalled", hr);
        goto out;
    }
    if (!firewalled && (hr = fw6_connection_enable_firewall(c)) != FW6_S_OK) {
        fail("EnableFirewall", hr);
        goto out;
    }

    hr = owner_of(c, port, protocol, &owner);
    if (hr != FW6_S_OK) {
        fail("OpenPorts", hr);
        goto out;
    }
    if (owner != NULL && strcmp(owner, tag) != 0) {
        printf("port %u is already open for %s\n", port, owner);
    } else {
        hr = fw6_connection_open_port(c, port, protocol, tag);
        if (hr != FW6_S_OK) {
            fail("OpenPort", hr);
            goto out;
        }
        printf("opened port %u for %s\n", port, tag);
    }

    hr = print_open_ports(c);
    if (hr != FW6_S_OK) {
        fail("EnumerateOpenPorts", hr);
        goto out;
    }
    status = 0;
out:
    fw6_string_free(owner);
    fw6_connection_release(c);
    fw6_manager_release(mgr);
    return status;
}
