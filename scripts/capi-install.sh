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
#
# As a package build needs: LIBDIR (default lib) is the library directory below PREFIX, e.g.
# lib/x86_64-linux-gnu; DESTDIR (default empty) is where the files go, while fw6.pc names
# PREFIX itself (scripts/deb-capi.sh: DESTDIR=stage PREFIX=/usr).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
prefix=${1:?usage: capi-install.sh PREFIX [BUILD-DIR] [--static]}
built=${2:-${CARGO_TARGET_DIR:-$repo/target}/debug}
static=${3:-}
libdir=${LIBDIR:-lib}
dest=${DESTDIR:-}$prefix
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
major=${version%%.*}
[[ -f $built/libfw6_capi.so ]] || { echo "capi-install.sh: $built/libfw6_capi.so is missing: run cargo build -p fw6-capi first" >&2; exit 1; }

install -d "$dest/include" "$dest/$libdir/pkgconfig"
install -m 644 "$repo/crates/fw6-capi/include/fw6.h" "$dest/include/fw6.h"
install -m 755 "$built/libfw6_capi.so" "$dest/$libdir/libfw6.so.$version"
ln -sfn "libfw6.so.$version" "$dest/$libdir/libfw6.so.$major"
ln -sfn "libfw6.so.$major" "$dest/$libdir/libfw6.so"
if [[ $static == --static ]]; then
    install -m 644 "$built/libfw6_capi.a" "$dest/$libdir/libfw6.a"
fi
sed -e "s|@PREFIX@|$prefix|" -e "s|@LIBDIR@|$libdir|" -e "s|@VERSION@|$version|" \
    "$repo/crates/fw6-capi/fw6.pc.in" > "$dest/$libdir/pkgconfig/fw6.pc"
