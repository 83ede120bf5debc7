# The Debian root file system the booted tests start from, shared by scripts/systemd-test.sh
# (a systemd-nspawn container) and scripts/vm-test.sh (a qemu VM). Sourced, not run.
#
#   rootfs_tarball WORKDIR SUITE PACKAGES   # prints the path of the cached tarball
#
# `mmdebstrap --variant=minbase` with PACKAGES (comma-separated) added, as a tar file cached in
# WORKDIR under a name keyed by suite and package list, so a changed list builds a new one.
# Built once into a `.part` file and renamed, so an interrupted build is never taken as done.

rootfs_tarball() {
    local work=$1 suite=$2 packages=$3 key tarball
    key=$(printf '%s %s minbase v1' "$suite" "$packages" | sha256sum | cut -c1-12)
    tarball=$work/rootfs-$suite-$key.tar
    if [[ ! -s $tarball ]]; then
        printf '  building the root file system (mmdebstrap %s, once; cached in %s)\n' \
            "$suite" "$tarball" >&2
        mkdir -p "$work"
        rm -f "$tarball.part"
        mmdebstrap --quiet --variant=minbase --include="$packages" --format=tar \
            "$suite" "$tarball.part" >&2
        mv "$tarball.part" "$tarball"
    fi
    printf '%s\n' "$tarball"
}
