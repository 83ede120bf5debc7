#!/usr/bin/env bash
# Installs libfw6 (the C library, crates/fw6-capi) under PREFIX, as a distribution would:
#
#   PREFIX/include/fw6.h
#   PREFIX/lib/libfw6.so.VERSION, libfw6.so.MAJOR -> it (the soname), libfw6.so -> that
#   PREFIX/lib/libfw6.a                      (with --static)
#   PREFIX/lib/pkgconfig/fw6.pc
#
#   scripts/capi-install.sh PREFIX [BUILD-DIR] [--static]
#
# It installs what `cargo build -p fw6-capi [--release]` left in BUILD-DIR (default: the debug
# directory of CARGO_TARGET_DIR or of the repo's target/, e.g. target/release for a release
# build); it does not build. docs/c-api.md.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:?usage: capi-install.sh PREFIX [BUILD-DIR] [--static]}
built=${2:-${CARGO_TARGET_DIR:-$repo/target}/debug}
static=${3:-}
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
major=${version%%.*}
[[ -f $built/libfw6_capi.so ]] || { echo "capi-install.sh: $built/libfw6_capi.so is missing: run cargo build -p fw6-capi first" >&2; exit 1; }

install -d "$prefix/include" "$prefix/lib/pkgconfig"
install -m 644 "$repo/crates/fw6-capi/include/fw6.h" "$prefix/include/fw6.h"
install -m 755 "$built/libfw6_capi.so" "$prefix/lib/libfw6.so.$version"
ln -sfn "libfw6.so.$version" "$prefix/lib/libfw6.so.$major"
ln -sfn "libfw6.so.$major" "$prefix/lib/libfw6.so"
if [[ $static == --static ]]; then
    install -m 644 "$built/libfw6_capi.a" "$prefix/lib/libfw6.a"
fi
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" \
    "$repo/crates/fw6-capi/fw6.pc.in" > "$prefix/lib/pkgconfig/fw6.pc"
