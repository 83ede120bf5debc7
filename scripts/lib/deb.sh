# The Debian package of the debug build, for the booted tests (scripts/systemd-test.sh,
# scripts/vm-test.sh). Sourced, not run.
#
#   dev_deb TARGET_DIR        # prints the path of the .deb
#   previous_deb TARGET_DIR   # the same for the previous release (below)
#
# cargo-deb is installed once under TARGET_DIR/tools at a pinned version.

cargo_deb_version=3.8.0

# The previous release the upgrade check starts from: the last commit whose fw6d wrote store
# schema version 2, before the pending-change (v3) and leases (v4) migrations, and whose table
# had no element timeouts. Built from this clone's history by its own scripts (debug profile)
# in a target dir of its own, so nothing of the current build is overwritten.
previous_release=dbe41ce2a077a5f54f0ce8642e7a63e30b89652a

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

# The previous release's commit; a shallow clone fetches the history it lacks from its origin.
previous_commit() {
    if ! git rev-parse --verify -q "$previous_release^{commit}" 2>/dev/null; then
        if [[ $(git rev-parse --is-shallow-repository) == true ]]; then
            git fetch --quiet --unshallow >&2 || git fetch --quiet origin "$previous_release" >&2
        fi
        git rev-parse --verify -q "$previous_release^{commit}" || {
            echo "the previous release $previous_release is not in this clone's history," \
                "and fetching it failed" >&2
            return 1
        }
    fi
}

previous_deb() {
    local target=$1 commit dir src deb
    commit=$(previous_commit) || return 1
    dir=$target/previous-release
    src=$dir/src
    # Unpacked once per commit: a fresh copy would make cargo rebuild every time.
    if [[ $(cat "$dir/commit" 2>/dev/null) != "$commit" ]]; then
        rm -rf "$dir"
        mkdir -p "$src"
        git archive "$commit" | tar -x -C "$src"
        printf '%s\n' "$commit" >"$dir/commit"
    fi
    [[ -x $target/tools/bin/cargo-deb ]] || dev_deb "$target" >/dev/null || return 1
    deb=$(cd "$src" && CARGO_TARGET_DIR=$dir/target CARGO_DEB=$target/tools/bin/cargo-deb \
        FW6_DEB_PROFILE=dev bash scripts/deb.sh --strip --fast 2>/dev/null | tail -n1)
    [[ -f $deb ]] || return 1
    printf '%s\n' "$deb"
}
