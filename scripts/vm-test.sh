#!/usr/bin/env bash
# fw6 on the kernels users run, in a VM: boots a Debian 12 image under qemu-system-x86_64 on a
# Debian kernel fetched from the archive, with systemd as PID 1 and no network device, and
# runs inside it (scripts/vm/guest.sh) the installed package started by systemd — nf_tables
# modules not preloaded — then the privileged test binaries built here. One boot per kernel.
#
#   scripts/vm-test.sh                          # CI's suite on Debian 12's stock 6.1
#   scripts/vm-test.sh --suite full --kernel stock --kernel newest
#
# --kernel stock   the newest linux-image-6.1.0-N-amd64-unsigned (Debian 12's own kernel)
# --kernel newest  the newest linux-image-*-amd64-unsigned apt knows (bookworm's 6.12 today)
# --kernel PACKAGE any linux-image-…-unsigned package name
# --suite ci|full  which test binaries run (see `suite_tests` below)
# --test CRATE:NAME  run this test binary instead of a suite (repeatable), e.g. fw6d:leases
#
# The kernel package is fetched with `apt-get download` and unpacked with `dpkg-deb -x`: no
# kernel is ever installed on the machine. Cached under target/vm/: the kernels, and per kernel
# a raw ext4 image (mmdebstrap rootfs, scripts/lib/rootfs.sh, plus the kernel's modules) and
# its initramfs (Debian's mkinitramfs, virtio + ext4 only). Each run boots a qcow2 overlay of
# the image, so the image stays clean. The checkout is shared read-only over 9p at its own path
# (test binaries find their data and fw6d by compiled-in paths), a second 9p share carries the
# package, the run's parameters, and back the log and the exit status. KVM when /dev/kvm
# exists and a probe boot prints the kernel banner; otherwise TCG. qemu is killed after
# FW6_VM_TIMEOUT seconds (default 1800) and on any exit or interruption of this script; the
# tests run one at a time unless FW6_VM_TEST_THREADS says otherwise. Needs
# root, qemu-system-x86, qemu-utils, mmdebstrap and e2fsprogs (mkfs.ext4 -d).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=scripts/lib/rootfs.sh
source scripts/lib/rootfs.sh
# shellcheck source=scripts/lib/deb.sh
source scripts/lib/deb.sh
target=$(realpath -m "${CARGO_TARGET_DIR:-target}")
vm=$target/vm
suite=bookworm
# What the guest needs: systemd as PID 1, the bus, polkitd and nft for the tests and the
# package; kmod (the kernel's /sbin/modprobe, for module autoload) and udev; initramfs-tools
# for mkinitramfs; e2fsprogs (chattr), python3 (scripts/systemd-probe.py), conntrack; netbase
# (/etc/protocols: the golden tests' `nft -f` resolves protocol names).
packages=systemd,systemd-sysv,dbus,polkitd,nftables,iproute2,procps,kmod,udev,initramfs-tools,e2fsprogs,python3,conntrack,netbase
timeout_s=${FW6_VM_TIMEOUT:-1800}
image_version=v1

kernels=()
test_suite=ci
only=()
while (($#)); do
    case $1 in
    --kernel) kernels+=("${2:?--kernel needs stock, newest or a package name}") && shift 2 ;;
    --suite) test_suite=${2:?--suite needs ci or full} && shift 2 ;;
    --test)
        [[ ${2:-} == ?*:?* ]] || { echo "vm-test.sh: --test needs CRATE:NAME, e.g. fw6d:leases" >&2 && exit 2; }
        only+=("${2%%:*} ${2#*:}") && shift 2
        ;;
    -h | --help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" && exit 0 ;;
    *) echo "vm-test.sh: unknown argument $1 (see --help)" >&2 && exit 2 ;;
    esac
done
((${#kernels[@]})) || kernels=(stock)
[[ $test_suite == @(ci|full) ]] || { echo "vm-test.sh: --suite must be ci or full" >&2 && exit 2; }

run_dir=
qemu_pid=
tests=
image_dir=
started=$SECONDS
say() { printf '%s\n' "$*"; }
fail() {
    printf 'vm-test.sh: FAIL: %s\n' "$*" >&2
    exit 1
}

# Kills qemu (by its pid), keeps the console and guest log of a failed run, removes the run.
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [[ -n $qemu_pid ]] && kill -0 "$qemu_pid" 2>/dev/null; then
        kill -TERM "$qemu_pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$qemu_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$qemu_pid" 2>/dev/null || true
        wait "$qemu_pid" 2>/dev/null || true
    fi
    if [[ -n $run_dir && -d $run_dir ]]; then
        if ((rc)); then
            cp -f "$run_dir/console.log" "$vm/last-console.log" 2>/dev/null || true
            cp -f "$run_dir/out/log" "$vm/last-guest.log" 2>/dev/null || true
            say "vm-test.sh: failed after $((SECONDS - started)) s; the VM's console is in" \
                "$vm/last-console.log, the guest's log in $vm/last-guest.log" >&2
        fi
        rm -rf "$run_dir"
    fi
    [[ -z $tests ]] || rm -f "$tests" "$tests.json"
    [[ -z $image_dir ]] || rm -rf "$image_dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

((EUID == 0)) || fail "needs root (an image built from a root file system, 9p shares as root)"
for tool in qemu-system-x86_64 qemu-img mmdebstrap mkfs.ext4 dpkg-deb apt-get apt-cache chroot; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing: apt-get install qemu-system-x86 qemu-utils mmdebstrap e2fsprogs"
done
mkdir -p "$vm/kernels"

# The test binaries each suite runs, as `crate test` pairs. CI's: what a kernel difference
# can break, within about ten minutes under TCG (leases: the kernel's element timeouts end a
# lease while fw6d is dead); full: every privileged kernel and daemon suite.
suite_tests() {
    if ((${#only[@]})); then
        printf '%s\n' "${only[@]}"
        return
    fi
    case $test_suite in
    ci) printf '%s\n' "fw6-kernel nft_golden" "fw6-kernel packets" "fw6-kernel nft_owner" \
        "fw6-kernel nft_failure" "fw6d access" "fw6d recovery" "fw6d leases" ;;
    full) printf '%s\n' "fw6-kernel nft_golden" "fw6-kernel nft_incremental" \
        "fw6-kernel packets" "fw6-kernel nft_scale" "fw6-kernel nft_failure" \
        "fw6-kernel nft_generation" "fw6-kernel nft_owner" "fw6-kernel nflog" \
        "fw6-kernel links" "fw6d daemon" "fw6d access" "fw6d recovery" "fw6d logging" \
        "fw6d leases" "fw6d revert" "fw6d upgrade" ;;
    esac
}

# Builds the suite's test binaries and fw6d/fw6 (debug) and writes "name manifest-dir exe"
# lines to FILE: the guest runs each exe from its crate's directory, as cargo test does.
build_tests() {
    local args=() crate name
    while read -r crate name; do args+=(-p "$crate" --test "$name"); done < <(suite_tests)
    cargo build --locked -p fw6d -p fw6
    cargo test --locked --no-run --message-format=json "${args[@]}" >"$1.json"
    python3 - "$1.json" >"$1" <<'EOF'
import json, os, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"], os.path.dirname(m["manifest_path"]), m["executable"])
EOF
    rm -f "$1.json"
    [[ $(wc -l <"$1") -eq $(suite_tests | wc -l) ]] || fail "cargo test --no-run built $(cat "$1")"
}

# The package name for --kernel WHAT (after one `apt-get update` if apt has no lists yet).
kernel_package() {
    local found
    if ! apt-cache search --names-only '^linux-image-6\.1\.0-' | grep -q .; then
        apt-get update -qq >&2 || fail "apt-get update failed"
    fi
    case $1 in
    stock) found=$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64-unsigned$') ;;
    newest) found=$(apt-cache search --names-only '^linux-image-[0-9][^ ]*-amd64-unsigned$' |
        grep -v -e '-cloud-amd64' -e '-rt-amd64') ;;
    *) found=$1 ;;
    esac
    found=$(awk '{ print $1 }' <<<"$found" | sort -V | tail -n1)
    [[ -n $found ]] || fail "apt knows no kernel package for '$1' (run apt-get update first)"
    printf '%s\n' "$found"
}

# Fetches and unpacks PACKAGE under $vm/kernels/PACKAGE/ (once) and sets kdir to it.
fetch_kernel() {
    local dir=$vm/kernels/$1 tmp
    if [[ ! -d $dir ]]; then
        tmp=$(mktemp -d -p "$vm/kernels")
        (cd "$tmp" && apt-get download -q "$1" >/dev/null 2>"$tmp/download.err") ||
            fail "apt-get download $1: $(cat "$tmp/download.err")"
        dpkg-deb -x "$tmp"/*.deb "$tmp/x"
        mv "$tmp/x" "$dir"
        rm -rf "$tmp"
    fi
    kdir=$dir
}

# The runner inside the image: mounts the 9p share, runs the guest script with its output in
# the share, writes the exit status next to it and powers the VM off, whatever happened.
runner_unit() {
    cat >"$1/etc/systemd/system/fw6-vm.service" <<'EOF'
[Unit]
Description=fw6 VM test run (scripts/vm-test.sh)
After=multi-user.target
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/fw6-vm-run
ExecStopPost=/bin/systemctl --no-block poweroff
StandardOutput=journal+console
[Install]
WantedBy=multi-user.target
EOF
    ln -s ../fw6-vm.service "$1/etc/systemd/system/multi-user.target.wants/fw6-vm.service"
    cat >"$1/usr/local/sbin/fw6-vm-run" <<'EOF'
#!/bin/bash
out=/run/fw6vm
mkdir -p "$out"
modprobe -a 9pnet_virtio 9p
mount -t 9p -o trans=virtio,version=9p2000.L,msize=1048576 fw6out "$out" || exit 1
bash "$out/guest.sh" >"$out/log" 2>&1
echo "$?" >"$out/status"
sync
EOF
    chmod 755 "$1/usr/local/sbin/fw6-vm-run"
}

# The image for kernel directory KDIR (once): rootfs + modules, depmod, initramfs, ext4.
# Sets img, vmlinuz and initrd.
build_image() {
    local release tarball key dir
    release=$(ls "$kdir/lib/modules")
    tarball=$(rootfs_tarball "$target/systemd-test" "$suite" "$packages") || fail "mmdebstrap failed"
    key=$(printf '%s %s' "$(basename "$tarball")" "$image_version" | sha256sum | cut -c1-8)
    img=$vm/$release-$key.img
    if [[ ! -s $img || ! -s $img.initrd ]]; then
        say "  building the image for $release (once; cached in $img)"
        # An image of an older package list or of this script's older version goes.
        rm -f "$vm/$release"-*.img "$vm/$release"-*.img.initrd
        dir=$(mktemp -d -p "$vm")
        image_dir=$dir
        tar -C "$dir" -xf "$tarball"
        mkdir -p "$dir/usr/lib/modules"
        cp -a "$kdir/lib/modules/$release" "$dir/usr/lib/modules/"
        # mkinitramfs reads the kernel's config (which compressions it can unpack).
        cp "$kdir/boot/config-$release" "$dir/boot/"
        chroot "$dir" depmod "$release"
        echo fw6vm >"$dir/etc/hostname"
        # Nothing else runs during the tests: no timers, and no getty on the console.
        for u in apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer \
            e2scrub_reap.service serial-getty@ttyS0.service getty@tty1.service; do
            ln -sf /dev/null "$dir/etc/systemd/system/$u"
        done
        runner_unit "$dir"
        printf 'virtio_pci\nvirtio_blk\next4\n' >>"$dir/etc/initramfs-tools/modules"
        sed -i 's/^MODULES=.*/MODULES=list/' "$dir/etc/initramfs-tools/initramfs.conf"
        chroot "$dir" mkinitramfs -o /boot/initrd.img "$release" 2>"$vm/mkinitramfs.err" ||
            fail "mkinitramfs in the image: $(tail -n5 "$vm/mkinitramfs.err")"
        mv "$dir/boot/initrd.img" "$img.initrd.part"
        mkfs.ext4 -q -F -L fw6vm -d "$dir" "$img.part" 4G >"$vm/mkfs.log" 2>&1 ||
            fail "mkfs.ext4 -d: $(tail -n5 "$vm/mkfs.log")"
        rm -rf "$dir" "$vm/mkfs.log" "$vm/mkinitramfs.err"
        image_dir=
        mv "$img.initrd.part" "$img.initrd"
        mv "$img.part" "$img"
    fi
    vmlinuz=$kdir/boot/vmlinuz-$release
    initrd=$img.initrd
}

# How qemu runs here: KVM if /dev/kvm exists and the kernel prints its banner under it within
# 10 s (a nested or paravirtual /dev/kvm may exist and not run an unmodified kernel), else TCG
# (5-level paging off: with it, guests broke at boot).
accel=
choose_accel() {
    local vmlinuz=$1 log pid
    accel=(-accel tcg,thread=multi -cpu max,la57=off,svm=off)
    accel_name=TCG
    [[ -c /dev/kvm ]] || return 0
    log=$(mktemp)
    qemu-system-x86_64 -accel kvm -cpu host -m 256 -nodefaults -display none -no-reboot \
        -serial "file:$log" -kernel "$vmlinuz" -append "console=ttyS0 panic=-1" &
    pid=$!
    for _ in $(seq 100); do
        grep -q "Linux version" "$log" 2>/dev/null && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if grep -q "Linux version" "$log"; then
        accel=(-accel kvm -cpu host)
        accel_name=KVM
    fi
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    rm -f "$log"
}

# One boot: the package checks and the test binaries in TESTS on kernel PACKAGE.
boot_and_test() {
    local package=$1 tests=$2 kdir img vmlinuz initrd boot_started status offset=0 size
    fetch_kernel "$package"
    build_image
    [[ -n ${accel_name:-} ]] || choose_accel "$vmlinuz"
    run_dir=$(mktemp -d -p "$vm" run.XXXXXX)
    mkdir "$run_dir/out"
    qemu-img create -q -f qcow2 -b "$img" -F raw "$run_dir/root.qcow2"
    cp scripts/vm/guest.sh "$run_dir/out/guest.sh"
    cp "$deb" "$run_dir/out/fw6.deb"
    cp "$tests" "$run_dir/out/tests"
    printf 'REPO=%q\nTARGET=%q\nTEST_THREADS=%q\n' "$repo" "$target" "${FW6_VM_TEST_THREADS:-1}" \
        >"$run_dir/out/env"
    say "== $package ($accel_name): booting"
    boot_started=$SECONDS
    local shares=(-virtfs "local,path=$repo,mount_tag=fw6src,security_model=none,readonly=on")
    [[ $target == "$repo"/* ]] ||
        shares+=(-virtfs "local,path=$target,mount_tag=fw6target,security_model=none,readonly=on")
    qemu-system-x86_64 "${accel[@]}" -m 3072 -smp 2 -nodefaults -no-user-config \
        -display none -no-reboot -serial "file:$run_dir/console.log" \
        -kernel "$vmlinuz" -initrd "$initrd" \
        -append "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=error" \
        -drive "file=$run_dir/root.qcow2,if=virtio,format=qcow2,cache=unsafe" \
        -device virtio-rng-pci \
        -virtfs "local,path=$run_dir/out,mount_tag=fw6out,security_model=none" \
        "${shares[@]}" </dev/null >"$run_dir/qemu.out" 2>&1 &
    qemu_pid=$!
    # Follows the guest's log while the VM runs; bounded by the timeout.
    while kill -0 "$qemu_pid" 2>/dev/null; do
        if ((SECONDS - boot_started > timeout_s)); then
            fail "the VM did not power off within $timeout_s s (FW6_VM_TIMEOUT)"
        fi
        if [[ -f $run_dir/out/log ]]; then
            size=$(stat -c %s "$run_dir/out/log")
            if ((size > offset)); then
                tail -c +"$((offset + 1))" "$run_dir/out/log" | head -c "$((size - offset))"
                offset=$size
            fi
        fi
        sleep 1
    done
    wait "$qemu_pid" || fail "qemu failed: $(cat "$run_dir/qemu.out")"
    qemu_pid=
    [[ -f $run_dir/out/log ]] && tail -c +"$((offset + 1))" "$run_dir/out/log"
    [[ -s $run_dir/out/status ]] || fail "the VM stopped without a result; its console:" \
        "$(tail -n 30 "$run_dir/console.log")"
    status=$(cat "$run_dir/out/status")
    say "== $package ($accel_name): exit status $status after $((SECONDS - boot_started)) s" \
        "(booted to the runner in $(cat "$run_dir/out/boot-seconds" 2>/dev/null || echo '?') s)"
    ((status == 0)) || fail "checks failed in the VM on $package (see the log above)"
    rm -rf "$run_dir"
    run_dir=
}

packages_to_run=()
for k in "${kernels[@]}"; do packages_to_run+=("$(kernel_package "$k")"); done
say "vm-test.sh: ${only[*]:-suite $test_suite} on ${packages_to_run[*]}"
tests=$vm/tests.$$
build_tests "$tests"
deb=$(dev_deb "$target") || fail "the package could not be built"
for p in "${packages_to_run[@]}"; do
    boot_and_test "$p" "$tests"
done
say "vm-test.sh: all passed in $((SECONDS - started)) s"
