#!/usr/bin/env bash
# The fw6 sandbox lab: fw6d in a network namespace of its own, on a private D-Bus system bus
# with the real polkitd, and a peer namespace to send it packets.
#
#   scripts/lab.sh up       build fw6 + fw6d (debug), start the lab, show the firewall at work
#   scripts/lab.sh status   what is running
#   scripts/lab.sh shell    a root shell inside the lab's host namespace, FW6_BUS_ADDRESS set
#   scripts/lab.sh down     stop everything the lab started and remove it
#
# Needs root (network namespaces, nftables, dbus-daemon, polkitd). It never touches the
# machine's own network namespace, firewall, addresses, routes, system bus or polkitd:
#
#   netns fw6lab-host   lan0 fd06:6::1/64 ── veth ── eth0 fd06:6::2/64   netns fw6lab-peer
#                       fw6d, dbus-daemon, polkitd, a demo TCP server on 8080 and 9090
#
# Everything else lives in $FW6_LAB_DIR (default /run/fw6lab): the bus socket and config,
# polkitd's action and rules directories, fw6d's config and store, pid files and logs.
# Processes are stopped by the pids recorded there, never by name.
#
# Environment: FW6_LAB_NAME (default fw6lab: the namespaces are NAME-host and NAME-peer, so a
# second lab, e.g. scripts/test.sh's, can run beside yours), FW6_LAB_DIR (default /run/NAME), FW6_LAB_PROFILE (debug, the default, or release),
# CARGO_TARGET_DIR (default: the repo's target/, so a test run's binaries are reused),
# FW6_LAB_BUILD (auto, the default: build unless the binaries are newer than every source file;
# always; never: use the binaries in the target directory as they are).
set -Eeuo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
name=${FW6_LAB_NAME:-fw6lab}
[[ $name =~ ^[a-z0-9]{1,10}$ ]] || { echo "lab.sh: FW6_LAB_NAME must be 1-10 of [a-z0-9]" >&2; exit 2; }
lab=${FW6_LAB_DIR:-/run/$name}
profile=${FW6_LAB_PROFILE:-debug}
target=${CARGO_TARGET_DIR:-$repo/target}
host_ns=$name-host
peer_ns=$name-peer
host_if=lan0
peer_if=eth0
host_addr=fd06:6::1
peer_addr=fd06:6::2
# fw6 filters IPv4 too (families in fw6d.toml): both ends have an IPv4 address as well.
host_addr4=10.66.6.1
peer_addr4=10.66.6.2
bus_socket=$lab/bus
bus_address=unix:path=$bus_socket
polkitd_bin=/usr/lib/polkit-1/polkitd
# Components, in start order; `down` stops them in reverse.
components=(dbus-daemon polkitd fw6d demo-server)

# Debian packages the lab uses (the same as .ci/run's, minus the test-only ones).
packages=(nftables iproute2 dbus-daemon dbus-bin polkitd procps python3)

if [[ -t 1 ]]; then
    bold=$'\e[1m' green=$'\e[32m' red=$'\e[31m' dim=$'\e[2m' off=$'\e[0m'
else
    bold='' green='' red='' dim='' off=''
fi
say() { printf '%s\n' "$*"; }
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$off"; }
die() {
    printf 'lab.sh: %s\n' "$*" >&2
    exit 1
}
failures=0
pass() { printf '%s✔ %s%s\n' "$green" "$*" "$off"; }
fail() {
    printf '%s✘ %s%s\n' "$red" "$*" "$off"
    failures=$((failures + 1))
}
# Shows a command the way a user would type it in `scripts/lab.sh shell`, then runs it there.
show() {
    printf '%s$ %s%s\n' "$dim" "$*" "$off"
    in_host "$@"
}

in_host() { ip netns exec "$host_ns" env "FW6_BUS_ADDRESS=$bus_address" "PATH=$lab/bin:$PATH" "$@"; }
in_peer() { ip netns exec "$peer_ns" "$@"; }

require_root() {
    [[ $(id -u) == 0 ]] || die "needs root (network namespaces, nftables, a bus and polkitd): sudo $0 $*"
}

# ---------------------------------------------------------------------------------------------
# Processes, by pid file

pidfile() { echo "$lab/$1.pid"; }

# The start time of process $1 (clock ticks since boot, field 22 of /proc/PID/stat).
start_time() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) } # the command name may contain spaces; fields after it do not
    read -ra fields <<<"$stat"
    echo "${fields[19]}"
}

# The pid of component $1 if it is running and is the process we started: the pid file holds
# the pid and its start time, so a recycled pid is never signalled (the executable changes
# during start-up: setsid, ip netns exec and unshare all exec the next program in place).
running_pid() {
    local file pid started now
    file=$(pidfile "$1")
    [[ -r $file ]] || return 1
    read -r pid started <"$file" || return 1
    [[ $pid =~ ^[0-9]+$ && -n $started ]] || return 1
    now=$(start_time "$pid") || return 1
    [[ $now == "$started" ]] || return 1
    # A zombie (exited, not yet reaped by us) is not running.
    [[ $(cat "/proc/$pid/stat" 2>/dev/null) != *") Z "* ]] || return 1
    echo "$pid"
}

stop_component() {
    local pid i
    pid=$(running_pid "$1") || {
        rm -f "$(pidfile "$1")"
        return 0
    }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        [[ -e /proc/$pid ]] || break
        sleep 0.1
    done
    if [[ -e /proc/$pid ]]; then
        say "  $1 (pid $pid) did not stop on SIGTERM within 5 s; SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    say "  stopped $1 (pid $pid)"
    rm -f "$(pidfile "$1")"
}

# Starts "$@" in the background in its own session, output to $lab/$name.log, and records its
# pid. `setsid` does not fork here (a background job of a script is not a group leader) and
# `ip netns exec`/`unshare`/`sh -c ... exec` keep the pid, so $! is the daemon's own pid.
spawn() {
    local name=$1
    shift
    setsid "$@" </dev/null >"$lab/$name.log" 2>&1 &
    echo "$! $(start_time $!)" >"$(pidfile "$name")"
}

# Waits up to $2 seconds for `$3...` to succeed while component $1 stays alive.
wait_for() {
    local name=$1 seconds=$2 i
    shift 2
    for ((i = 0; i < seconds * 20; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        running_pid "$name" >/dev/null || {
            say "$name exited during start-up; its log ($lab/$name.log):"
            sed 's/^/  | /' "$lab/$name.log" >&2 || true
            return 1
        }
        sleep 0.05
    done
    say "$name did not become ready within ${seconds}s; its log ($lab/$name.log):"
    sed 's/^/  | /' "$lab/$name.log" >&2 || true
    return 1
}

name_has_owner() {
    dbus-send --bus="$bus_address" --print-reply --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null |
        grep -q 'boolean true'
}

# ---------------------------------------------------------------------------------------------
# State

ns_exists() { [[ -e /run/netns/$1 ]]; }

# 0: fully up; 1: nothing there; 2: partly there.
lab_state() {
    local up=0 down=0 c
    for c in "${components[@]}"; do
        if running_pid "$c" >/dev/null; then up=$((up + 1)); else down=$((down + 1)); fi
    done
    for c in "$host_ns" "$peer_ns"; do
        if ns_exists "$c"; then up=$((up + 1)); else down=$((down + 1)); fi
    done
    [[ -d $lab ]] && up=$((up + 1))
    if ((down == 0)); then return 0; elif ((up == 0)); then return 1; else return 2; fi
}

usage_hint() {
    local me=scripts/lab.sh
    [[ $name == fw6lab ]] || me="FW6_LAB_NAME=$name scripts/lab.sh"
    cat <<EOF

${bold}The lab is up.${off} fw6d serves org.fw6.Firewall1 on a private bus; lan0 in netns
$host_ns is the firewalled connection, the peer is $peer_addr and $peer_addr4 in netns $peer_ns.

  sudo $me shell   # a shell in the host namespace, then e.g.:
      fw6 connections
      fw6 port open lan0 9090/tcp --name try-me
      fw6 explain lan0 9090/tcp
      busctl --address=\$FW6_BUS_ADDRESS tree org.fw6.Firewall1

  # or one command at a time, from the machine's own namespace (the bus is a Unix socket):
  sudo env FW6_BUS_ADDRESS=$bus_address $lab/bin/fw6 connections

  # from the peer: the demo server answers on 8080 and 9090 when the firewall lets it
  sudo ip netns exec $peer_ns bash -c 'exec 3<>/dev/tcp/$host_addr/9090 && cat <&3'

  sudo $me down    # stop it all and remove the namespaces
Logs: $lab/{fw6d,dbus-daemon,polkitd,demo-server}.log
EOF
}

# ---------------------------------------------------------------------------------------------
# up

check_packages() {
    local missing=() p
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    command -v apt-get >/dev/null ||
        die "missing tools: ${missing[*]} (Debian package names); install them and re-run"
    say "installing what the lab needs: ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# Whether $target/$profile has fw6 and fw6d newer than every source file of the workspace.
binaries_fresh() {
    local bin
    for bin in fw6 fw6d; do
        [[ -x $target/$profile/$bin ]] || return 1
        [[ -z $(find "$repo/crates" "$repo/Cargo.toml" "$repo/Cargo.lock" -type f \
            -newer "$target/$profile/$bin" -print -quit) ]] || return 1
    done
}

# Builds fw6 and fw6d. Debug, not release: a cold debug build takes about a third of a release
# one, and the lab needs no speed. Binaries newer than every source file are used as they are:
# `cargo test` (scripts/test.sh) leaves fresh debug fw6 and fw6d in target/debug, but built
# with the dev-dependencies' features, so a `cargo build` after it would compile them (and part
# of their dependencies) again. Under sudo, cargo runs as the invoking user: the toolchain is
# theirs, and target/ stays theirs.
build() {
    local args=(build --locked --bins -p fw6 -p fw6d)
    [[ $profile == release ]] && args+=(--release)
    [[ $profile == debug || $profile == release ]] || die "FW6_LAB_PROFILE must be debug or release"
    case ${FW6_LAB_BUILD:-auto} in
    auto) if binaries_fresh; then
        step "using fw6 and fw6d from $target/$profile (newer than every source file)"
        return 0
    fi ;;
    never)
        step "using fw6 and fw6d from $target/$profile as they are (FW6_LAB_BUILD=never)"
        return 0
        ;;
    always) ;;
    *) die "FW6_LAB_BUILD must be auto, always or never" ;;
    esac
    step "building fw6 and fw6d ($profile; target dir $target)"
    if [[ -n ${SUDO_USER:-} && $SUDO_USER != root ]]; then
        local home cargo
        home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
        cargo=$(sudo -u "$SUDO_USER" -H bash -lc 'command -v cargo' 2>/dev/null || true)
        [[ -n $cargo ]] || cargo=$home/.cargo/bin/cargo
        [[ -x $cargo ]] || die "cargo not found for $SUDO_USER (install Rust with rustup: https://rustup.rs)"
        (cd "$repo" && sudo -u "$SUDO_USER" -H env "PATH=$(dirname "$cargo"):$PATH" \
            ${CARGO_TARGET_DIR:+"CARGO_TARGET_DIR=$CARGO_TARGET_DIR"} "$cargo" "${args[@]}")
    else
        command -v cargo >/dev/null || die "cargo not found (install Rust with rustup: https://rustup.rs)"
        (cd "$repo" && cargo "${args[@]}")
    fi
}

make_namespaces() {
    step "network: $host_ns ($host_if $host_addr $host_addr4) ── veth ── $peer_ns ($peer_if $peer_addr $peer_addr4)"
    ip netns add "$host_ns"
    ip netns add "$peer_ns"
    # Created inside the host namespace with its peer end moved straight into the peer's: the
    # veth never exists in the machine's own namespace.
    ip -n "$host_ns" link add "$host_if" type veth peer name "$peer_if" netns "$peer_ns"
    ip -n "$host_ns" link set lo up
    ip -n "$peer_ns" link set lo up
    ip -n "$host_ns" addr add "$host_addr/64" dev "$host_if"
    ip -n "$peer_ns" addr add "$peer_addr/64" dev "$peer_if"
    ip -n "$host_ns" addr add "$host_addr4/24" dev "$host_if"
    ip -n "$peer_ns" addr add "$peer_addr4/24" dev "$peer_if"
    ip -n "$host_ns" link set "$host_if" up
    ip -n "$peer_ns" link set "$peer_if" up
    # Duplicate address detection: an address is usable once it is no longer tentative.
    local i
    for ((i = 0; i < 100; i++)); do
        if [[ -z $(ip -n "$host_ns" -6 addr show tentative) && -z $(ip -n "$peer_ns" -6 addr show tentative) ]]; then
            pass "addresses configured, duplicate address detection done"
            return 0
        fi
        sleep 0.1
    done
    die "addresses still tentative after 10 s (DAD)"
}

start_bus() {
    step "private D-Bus system bus + the real polkitd"
    # A system-type bus like Debian's: default-deny policy, the distribution's system.d files
    # (polkitd's among them) and our data/org.fw6.Firewall1.conf, peer-credential auth only.
    cat >"$lab/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>$bus_address</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <deny own="*"/>
    <deny send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_requested_reply="true" send_type="method_return"/>
    <allow send_requested_reply="true" send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
    <allow receive_type="signal"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
    <deny send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"
          send_member="UpdateActivationEnvironment"/>
  </policy>
  <!-- root may monitor the bus (busctl monitor, dbus-monitor), as on Debian's system bus. -->
  <policy user="root">
    <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Monitoring"/>
  </policy>
  <includedir>/usr/share/dbus-1/system.d</includedir>
  <include>$lab/org.fw6.Firewall1.conf</include>
</busconfig>
EOF
    cp "$repo/data/org.fw6.Firewall1.conf" "$lab/"
    spawn dbus-daemon ip netns exec "$host_ns" dbus-daemon "--config-file=$lab/bus.conf" --nofork --nopidfile
    wait_for dbus-daemon 20 test -S "$bus_socket"
    chmod 0755 "$lab"
    pass "dbus-daemon (pid $(running_pid dbus-daemon)) listening on $bus_address"

    # polkitd 122 has no options for its bus or directories: it uses DBUS_SYSTEM_BUS_ADDRESS and
    # reads /usr/share/polkit-1/actions and /etc/polkit-1/rules.d. So it runs in a private mount
    # namespace where those two paths are bind mounts of lab directories: the machine's action
    # files plus data/org.fw6.Firewall1.policy from this checkout (exactly where the package
    # installs it), and an empty rules directory for your experiments. Nothing is installed on
    # the machine and the mounts vanish with polkitd. (fw6-testkit's PrivateBus does the same.)
    mkdir -p "$lab/polkit/actions" "$lab/polkit/rules.d"
    cp /usr/share/polkit-1/actions/*.policy "$lab/polkit/actions/" 2>/dev/null || true
    cp "$repo/data/org.fw6.Firewall1.policy" "$lab/polkit/actions/"
    chmod -R a+rX "$lab/polkit"
    spawn polkitd ip netns exec "$host_ns" env "DBUS_SYSTEM_BUS_ADDRESS=$bus_address" \
        unshare --mount --propagation private -- sh -c \
        'mount --bind "$1" /etc/polkit-1/rules.d && mount --bind "$2" /usr/share/polkit-1/actions && exec "$3"' \
        sh "$lab/polkit/rules.d" "$lab/polkit/actions" "$polkitd_bin"
    wait_for polkitd 20 name_has_owner org.freedesktop.PolicyKit1
    pass "polkitd (pid $(running_pid polkitd)) owns org.freedesktop.PolicyKit1, with the org.fw6.firewall1.* actions"
}

start_fw6d() {
    step "fw6d in $host_ns"
    mkdir -p "$lab/bin" "$lab/state"
    ln -sfn "$target/$profile/fw6" "$lab/bin/fw6"
    ln -sfn "$target/$profile/fw6d" "$lab/bin/fw6d"
    # The shipped default configuration; the store goes to the lab (--state-dir).
    cp "$repo/data/fw6d.toml" "$lab/fw6d.toml"
    spawn fw6d ip netns exec "$host_ns" "$lab/bin/fw6d" --bus-address "$bus_address" \
        --config "$lab/fw6d.toml" --state-dir "$lab/state"
    wait_for fw6d 20 name_has_owner org.fw6.Firewall1
    pass "fw6d (pid $(running_pid fw6d)) owns org.fw6.Firewall1; store in $lab/state"
}

start_demo_server() {
    # A TCP server in the host namespace on 8080 and 9090 that greets and hangs up, so a
    # connection that fails from the peer can only have been stopped by the firewall.
    cat >"$lab/demo-server.py" <<'EOF'
import selectors, socket, sys
sel = selectors.DefaultSelector()
for port in map(int, sys.argv[1:]):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("::", port))
    s.listen(16)
    sel.register(s, selectors.EVENT_READ, port)
print("listening", sys.argv[1:], flush=True)
while True:
    for key, _ in sel.select():
        conn, peer = key.fileobj.accept()
        with conn:
            conn.sendall(b"hello from the fw6 lab, port %d\n" % key.data)
        print("served", peer[0], "on", key.data, flush=True)
EOF
    spawn demo-server ip netns exec "$host_ns" python3 "$lab/demo-server.py" 8080 9090
    wait_for demo-server 10 grep -q listening "$lab/demo-server.log"
}

# Connects from the peer to the host's address $2 (IPv6 by default), port $1/tcp, for at most
# 3 s. Prints the greeting; exit status 0 = connected, 124 = timed out (the SYN was dropped),
# else refused or another error.
connect_from_peer() {
    in_peer timeout 3 bash -c 'exec 3<>"/dev/tcp/$0/$1" && IFS= read -r -t 2 line <&3 && echo "$line"' \
        "${2:-$host_addr}" "$1" 2>&1
}

# probe PORT open|closed [ADDRESS]: over IPv6 to $host_addr, or to ADDRESS ($host_addr4: IPv4).
probe() {
    local port=$1 expect=$2 addr=${3:-$host_addr} out rc=0 family=IPv6
    [[ $addr == *.* ]] && family=IPv4
    printf '%s$ (in %s) connect to [%s]:%s%s\n' "$dim" "$peer_ns" "$addr" "$port" "$off"
    out=$(connect_from_peer "$port" "$addr") || rc=$?
    [[ -n $out ]] && printf '  %s\n' "$out"
    case $expect:$rc in
    open:0) pass "peer → $port/tcp over $family connected (the firewall let it in)" ;;
    closed:124) pass "peer → $port/tcp over $family timed out after 3 s (the firewall dropped the SYN)" ;;
    open:124) fail "peer → $port/tcp over $family timed out, but the port is open" ;;
    open:*) fail "peer → $port/tcp over $family failed (exit $rc), but the port is open" ;;
    closed:0) fail "peer → $port/tcp over $family connected, but the port is closed" ;;
    closed:*) fail "peer → $port/tcp over $family failed with exit $rc (refused?), expected a silent drop" ;;
    esac
}

# An unprivileged caller may read but not change: fw6d asks polkitd, whose default for our
# actions is auth_admin, and with no authentication agent that is a refusal (AccessDenied,
# exit code 4). Root skips polkit, which is why the calls above just worked.
unprivileged_refused() {
    local fw6 out rc=0
    fw6=$(readlink -f "$lab/bin/fw6")
    if ! setpriv --reuid=65534 --regid=65534 --clear-groups test -x "$fw6" 2>/dev/null; then
        say "· skipped the unprivileged-user check: user nobody cannot run $fw6 (a private home directory?)"
        return 0
    fi
    printf '%s$ setpriv --reuid=nobody --regid=nogroup --clear-groups fw6 port open lan0 9090/tcp%s\n' "$dim" "$off"
    out=$(in_host setpriv --reuid=65534 --regid=65534 --clear-groups "$fw6" port open lan0 9090/tcp 2>&1) || rc=$?
    printf '  %s\n' "$out"
    if ((rc == 4)) && [[ $out == *AccessDenied* ]]; then
        pass "user nobody was refused by polkitd (AccessDenied, exit 4); root skips polkit"
    else
        fail "user nobody: exit $rc, expected AccessDenied (4)"
    fi
}

demo() {
    step "the firewall at work"
    if show fw6 connections; then
        if in_host fw6 --json connections | grep -q '"interface":"lan0".*"firewalled":true\|"firewalled":true.*"interface":"lan0"'; then
            pass "lan0 is a connection, firewalled (the default for a new connection)"
        else
            fail "lan0 is not listed as a firewalled connection"
        fi
    else
        fail "fw6 connections failed"
    fi

    probe 8080 closed

    if show fw6 port open lan0 8080/tcp --name demo; then
        pass "fw6 port open lan0 8080/tcp --name demo"
    else
        fail "fw6 port open failed"
    fi
    show fw6 port list lan0 || fail "fw6 port list failed"

    probe 8080 open
    probe 9090 closed
    # The same connection and ports protect IPv4 (families = ["ipv6", "ipv4"], the default).
    probe 8080 open "$host_addr4"
    probe 9090 closed "$host_addr4"
    unprivileged_refused

    local port json
    for port in 8080 9090; do
        show fw6 explain lan0 "$port/tcp" || fail "fw6 explain lan0 $port/tcp failed"
        json=$(in_host fw6 --json explain lan0 "$port/tcp" 2>&1) || true
        if [[ $port == 8080 && $json == *'"allowed":true'* && $json == *open-on-connection* ]] ||
            [[ $port == 9090 && $json == *'"allowed":false'* && $json == *not-open* ]]; then
            pass "explain agrees with what the packets did ($port/tcp)"
        else
            fail "explain lan0 $port/tcp says: $json"
        fi
    done

    printf '%s$ nft list set inet fw6 open   # one set element per open pair, not one rule%s\n' "$dim" "$off"
    in_host nft list set inet fw6 open | sed 's/^/  /' || fail "nft list set inet fw6 open failed"

    if show fw6 status && in_host fw6 --json status | grep -q '"table":"in-sync"'; then
        pass "the kernel table is in sync with the store"
    else
        fail "fw6 status does not report the table in sync"
    fi
    if in_host fw6 --json status | grep -q '"families":\["ipv6","ipv4"\]'; then
        pass "fw6 status says IPv6 and IPv4 are filtered"
    else
        fail "fw6 status does not report both families filtered"
    fi
}

cmd_up() {
    require_root up
    local state=0
    lab_state || state=$?
    if ((state == 0)); then
        say "the lab is already up ($lab); 'scripts/lab.sh down' first to start afresh"
        usage_hint
        return 0
    elif ((state == 2)); then
        say "the lab is partly up (left over from an interrupted run); cleaning it up first"
        cmd_down
    fi
    local started=$SECONDS
    check_packages
    [[ -x $polkitd_bin ]] || die "$polkitd_bin not found (package polkitd)"
    build
    [[ -x $target/$profile/fw6 && -x $target/$profile/fw6d ]] ||
        die "no binaries in $target/$profile after the build"
    # From here on, a failure tears down what was made.
    trap 'say "start-up failed; cleaning up"; cmd_down >/dev/null 2>&1 || true' ERR
    mkdir -p "$lab"
    chmod 0755 "$lab"
    make_namespaces
    start_bus
    start_fw6d
    start_demo_server
    trap - ERR
    demo
    say ""
    say "lab up in $((SECONDS - started)) s"
    usage_hint
    if ((failures)); then
        printf '\n%s✘ %d check(s) failed%s (the lab stays up for a look; scripts/lab.sh down)\n' "$red" "$failures" "$off"
        return 1
    fi
    printf '\n%s✔ all checks passed%s\n' "$green" "$off"
}

# ---------------------------------------------------------------------------------------------
# down, status, shell

cmd_down() {
    require_root down
    local state=0 i c ns
    lab_state || state=$?
    if ((state == 1)); then
        say "the lab is not up; nothing to do"
        return 0
    fi
    say "stopping the lab"
    for ((i = ${#components[@]} - 1; i >= 0; i--)); do
        stop_component "${components[i]}"
    done
    for ns in "$host_ns" "$peer_ns"; do
        if ns_exists "$ns"; then
            ip netns del "$ns"
            say "  removed netns $ns"
        fi
    done
    if [[ -d $lab ]]; then
        rm -rf -- "$lab"
        say "  removed $lab"
    fi
    say "the lab is down"
}

cmd_status() {
    local c pid ns state=0
    for c in "${components[@]}"; do
        if pid=$(running_pid "$c"); then say "  $c: running (pid $pid)"; else say "  $c: not running"; fi
    done
    for ns in "$host_ns" "$peer_ns"; do
        if ns_exists "$ns"; then say "  netns $ns: present"; else say "  netns $ns: absent"; fi
    done
    lab_state || state=$?
    case $state in
    0)
        say "the lab is up ($lab, FW6_BUS_ADDRESS=$bus_address)"
        in_host fw6 status 2>&1 | sed 's/^/  /' || true
        ;;
    1) say "the lab is down" ;;
    2) say "the lab is partly up: 'scripts/lab.sh down' cleans it up" ;;
    esac
    return "$state"
}

cmd_shell() {
    require_root shell
    lab_state || die "the lab is not up: run 'scripts/lab.sh up' first"
    local rc=$lab/bashrc
    cat >"$rc" <<EOF
[[ -r ~/.bashrc ]] && source ~/.bashrc
export FW6_BUS_ADDRESS=$bus_address PATH=$lab/bin:\$PATH
PS1="(fw6-lab $host_ns) \$PS1"
echo "fw6 lab shell: netns $host_ns, FW6_BUS_ADDRESS=$bus_address; try 'fw6 connections'; exit to leave"
EOF
    exec ip netns exec "$host_ns" bash --rcfile "$rc" -i
}

case ${1:-} in
up) cmd_up ;;
down) cmd_down ;;
status) cmd_status ;;
shell) cmd_shell ;;
*)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
