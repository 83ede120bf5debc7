# The Debian package of the debug build, for the booted tests (scripts/systemd-test.sh,
# scripts/vm-test.sh). Sourced, not run.
#
#   dev_deb TARGET_DIR   # prints the path of the .deb
#
# cargo-deb is installed once under TARGET_DIR/tools at a pinned version.

cargo_deb_version=3.8.0

dev_deb() {
    local target=$1 cargo_deb deb
    cargo_deb=$target/tools/bin/cargo-deb
    if [[ ! -x $cargo_deb ]]; then
        cargo install --quiet --root "$target/tools" cargo-deb --version "$cargo_deb_version" \
            --locked >&2
    fi
    deb=$(CARGO_DEB=$cargo_deb FW6_DEB_PROFILE=dev bash scripts/deb.sh --strip --fast 2>/dev/null |
        tail -n1)
    [[ -f $deb ]] || return 1
    printf '%s\n' "$deb"
}
