#!/bin/bash
# Runs inside the VM of scripts/vm-test.sh, as root, from fw6-vm.service once the boot is done;
# its output is the run's log and its exit status the run's result (both back through the 9p
# share /run/fw6vm). First the installed package started by systemd, while no nf_tables module
# is loaded yet; then each test binary listed in /run/fw6vm/tests, from its crate's directory
# as cargo test runs it. A failed package check ends the package part ("FAIL [name]"); the
# test binaries run regardless. The last line counts the test binaries and package checks.
set -uo pipefail
out=/run/fw6vm
# shellcheck disable=SC1091
source "$out/env"
cut -d' ' -f1 /proc/uptime >"$out/boot-seconds"
printf 'guest: Linux %s, runner started %s s after the kernel\n' "$(uname -r)" "$(cat "$out/boot-seconds")"

# The checkout (and a target dir outside it) at the paths the test binaries were built with.
mkdir -p "$REPO"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,ro fw6src "$REPO" || exit 1
if [[ $TARGET != "$REPO"/* ]]; then
    mkdir -p "$TARGET"
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576,ro fw6target "$TARGET" || exit 1
fi

passed=0
failed=0
check_name=
check() {
    check_name=$1
    printf '\n== check %s\n' "$1"
}
pass() {
    printf '  ok: %s\n' "$*"
    passed=$((passed + 1))
}
# Inside package_checks: records the failure and leaves the function.
fail() {
    printf 'FAIL [%s]: %s\n' "$check_name" "$*"
    failed=$((failed + 1))
}

nft_modules() { awk '$1 ~ /^(nf_|nft_|nfnetlink)/ { print $1 }' /proc/modules | sort | tr '\n' ' '; }
release=$(uname -r)
# Whether this kernel has the table flag `persist` (6.9): what fw6 must detect, not assume.
has_persist() { [[ $(printf '%s\n6.9\n' "${release%%-*}" | sort -V | head -n1) == 6.9 ]]; }

# A peer namespace behind a veth, for packets to the VM's own (root) namespace.
addr=fd06:5757::2
probe() { ip netns exec peer python3 "$REPO/scripts/systemd-probe.py" once "$addr" "$1"; }
show() { systemctl show -P "$1" fw6d; }

package_checks() {
    check modules-not-loaded
    local before
    before=$(nft_modules)
    [[ " $before" != *" nf_tables "* ]] || { fail "nf_tables is loaded before fw6d ran: $before" && return; }
    pass "no nf_tables module loaded before fw6d (loaded: ${before:-none})"

    check install-offline
    local res
    # dpkg, not apt-get: the dependencies are in the image, and apt's cache costs a minute
    # under TCG (scripts/systemd-test.sh checks the apt install).
    res=$(dpkg -i "$out/fw6.deb" 2>&1) || { fail "dpkg -i: $res" && return; }
    [[ $(systemctl is-enabled fw6d) == enabled ]] || { fail "fw6d.service is not enabled" && return; }
    [[ " $(nft_modules)" != *" nf_tables "* ]] || { fail "the install loaded nf_tables" && return; }
    pass "installed, enabled, not started; nf_tables still not loaded"

    check module-autoload
    [[ $(show ProtectKernelModules) == yes ]] ||
        { fail "fw6d.service has ProtectKernelModules=$(show ProtectKernelModules)" && return; }
    systemctl start fw6d ||
        { fail "systemctl start fw6d: $(journalctl -u fw6d --no-pager | tail -n 20)" && return; }
    [[ $(show ActiveState)/$(show SubState) == active/running ]] || { fail "fw6d is not running" && return; }
    local after
    after=$(nft_modules)
    [[ " $after" == *" nf_tables "* ]] || { fail "nf_tables is not loaded after fw6d's commit: $after" && return; }
    nft list table inet fw6 >/dev/null || { fail "no table inet fw6" && return; }
    pass "ProtectKernelModules=yes; fw6d's first commit made the kernel load: $after"

    check table-protection
    local status json
    json=$(fw6 --json status 2>&1) || { fail "fw6 --json status: $json" && return; }
    status=$(fw6 status 2>&1)
    if has_persist; then
        [[ $json == *'"table_protection":"owner+persist"'* ]] ||
            { fail "Linux $release has persist; fw6 status says: $json" && return; }
        # Debian 12's nft (1.0.6) prints `owner` and not `persist`; the kill-9 check below
        # shows the table outlives its owner.
        [[ $(nft list table inet fw6) == *"flags owner"* ]] ||
            { fail "the table is not owned: $(nft list table inet fw6 | head -n2)" && return; }
    else
        [[ $json == *'"table_protection":"drift-repair"'* ]] ||
            { fail "Linux $release has no persist; fw6 status says: $json" && return; }
        # `owner` alone would take the table down with fw6d: never without persist.
        [[ $(nft list table inet fw6) != *"flags owner"* ]] ||
            { fail "the table is owned without persist: $(nft list table inet fw6 | head -n2)" && return; }
    fi
    pass "$(grep -i protect <<<"$status" | sed 's/^ *//')"

    check enforcement
    ip netns add peer
    ip -n peer link add p0 type veth peer name eth1 netns 1
    ip -n peer addr add fd06:5757::1/64 dev p0 nodad
    ip -n peer link set p0 up
    ip addr add "$addr/64" dev eth1 nodad
    ip link set eth1 up
    # The first SYN may wait for neighbour discovery on the new link: a few tries, bounded.
    local first=
    for _ in 1 2 3 4 5; do
        first=$(probe 22)
        [[ $first == accepted ]] && break
    done
    if [[ $first != accepted ]]; then
        ip -6 addr show dev eth1
        ip -n peer -6 neigh show
        ip -6 neigh show
        nft list table inet fw6
        fw6 status
        fail "22/tcp (open by default) is not accepted after 5 tries" && return
    fi
    [[ $(probe 8080) == dropped ]] || { fail "8080/tcp (closed) is not dropped" && return; }
    fw6 global open 8080/tcp --name web >/dev/null || { fail "fw6 global open 8080/tcp" && return; }
    [[ $(probe 8080) == accepted ]] || { fail "8080/tcp, opened, is not accepted" && return; }
    pass "from the peer: 22/tcp accepted, 8080/tcp dropped, then accepted once opened with fw6"

    # Debian's /etc/nftables.conf starts with `flush ruleset`: on a kernel without persist the
    # table goes and fw6d must rebuild it (drift repair); with persist it stays.
    check nftables-restart
    local handle
    handle=$(nft -a list table inet fw6 | sed -n '1s/.*# handle \([0-9]*\).*/\1/p')
    systemctl restart nftables || { fail "systemctl restart nftables" && return; }
    local back=
    for _ in $(seq 50); do
        nft list table inet fw6 >/dev/null 2>&1 && back=1 && break
        sleep 0.1
    done
    [[ -n $back ]] || { fail "the table is not back 5 s after flush ruleset" && return; }
    [[ $(probe 8080) == accepted && $(probe 8081) == dropped ]] ||
        { fail "the rebuilt table does not enforce the rules" && return; }
    local now
    now=$(nft -a list table inet fw6 | sed -n '1s/.*# handle \([0-9]*\).*/\1/p')
    if has_persist; then
        [[ $now == "$handle" ]] || { fail "owner+persist, yet flush ruleset replaced the table" && return; }
        pass "flush ruleset left the owned table (handle $handle)"
    else
        [[ $now != "$handle" ]] || { fail "the flush did not delete the table (proves nothing)" && return; }
        pass "flush ruleset deleted the table (handle $handle); fw6d rebuilt it (handle $now)"
    fi

    # With owner alone the table would go with its owner's socket: a stopped fw6d must leave
    # the very same table enforcing.
    check stop-keeps-table
    handle=$(nft -a list table inet fw6 | sed -n '1s/.*# handle \([0-9]*\).*/\1/p')
    systemctl stop fw6d || { fail "systemctl stop fw6d" && return; }
    now=$(nft -a list table inet fw6 | sed -n '1s/.*# handle \([0-9]*\).*/\1/p')
    [[ -n $now && $now == "$handle" ]] || { fail "the table did not outlive fw6d (handle '$now')" && return; }
    [[ $(probe 8080) == accepted && $(probe 8081) == dropped ]] || { fail "the rules changed on stop" && return; }
    systemctl start fw6d || { fail "systemctl start fw6d after stop" && return; }
    pass "fw6d stopped: the same table (handle $handle) enforced on; started again"

    check kill-9
    local pid new=
    pid=$(show MainPID)
    kill -9 "$pid"
    for _ in $(seq 100); do
        new=$(show MainPID)
        [[ $new != "$pid" && $new != 0 && $(show ActiveState) == active ]] && break
        new=
        sleep 0.1
    done
    [[ -n $new ]] || { fail "fw6d was not restarted within 10 s of kill -9" && return; }
    nft list table inet fw6 >/dev/null || { fail "the table died with fw6d" && return; }
    [[ $(probe 8080) == accepted && $(probe 8081) == dropped ]] || { fail "enforcement changed" && return; }
    pass "kill -9 $pid: restarted as $new, the table enforced throughout"

    check purge
    res=$(dpkg --purge fw6 2>&1) || { fail "dpkg --purge: $res" && return; }
    nft list table inet fw6 >/dev/null 2>&1 && { fail "purge left the table" && return; }
    ip netns del peer
    pass "purged: fw6d stopped, table gone (the tests below start from a clean kernel)"
}

started=$SECONDS
package_checks
printf '\nguest: package checks done in %s s\n' "$((SECONDS - started))"

# The test binaries: "name crate-dir exe" lines.
bins_passed=0
bins_failed=0
while read -r name dir exe; do
    printf '\n== test %s (%s)\n' "$name" "$exe"
    t=$SECONDS
    # One test at a time: under TCG two daemons starting at once miss the tests' start-up bound.
    if (cd "$dir" && "$exe" --test-threads="${TEST_THREADS:-1}") </dev/null; then
        bins_passed=$((bins_passed + 1))
        printf 'guest: %s passed in %s s\n' "$name" "$((SECONDS - t))"
    else
        bins_failed=$((bins_failed + 1))
        printf 'FAIL [test %s] after %s s\n' "$name" "$((SECONDS - t))"
    fi
done <"$out/tests"

printf '\nguest: Linux %s: package checks %s passed, %s failed; test binaries %s passed, %s failed\n' \
    "$release" "$passed" "$failed" "$bins_passed" "$bins_failed"
((failed == 0 && bins_failed == 0))
