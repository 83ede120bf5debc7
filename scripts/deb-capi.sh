#!/usr/bin/env bash
# Builds the Debian packages of libfw6, the C library (crates/fw6-capi), as Debian splits a
# shared library:
#
#   libfw6-0_<version>-1_<arch>.deb    /usr/lib/<triplet>/libfw6.so.<version> and the soname
#                                      link libfw6.so.0: what a program linked against libfw6
#                                      needs at run time (the package name carries the soname)
#   libfw6-dev_<version>-1_<arch>.deb  /usr/include/fw6.h, the libfw6.so link, libfw6.a and
#                                      /usr/lib/<triplet>/pkgconfig/fw6.pc: what building needs
#
#   scripts/deb-capi.sh      # -> target/debian/libfw6-{0,dev}_*.deb; prints both paths
#
# cargo-deb cannot make symbolic links, so the files are laid out by scripts/capi-install.sh
# (the same layout as a `make install`) in a staging directory and packed with dpkg-deb.
# FW6_DEB_PROFILE=dev packages the debug build (as scripts/deb.sh). docs/install.md.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
profile=${FW6_DEB_PROFILE:-release}
case $profile in
release) dir=release ;;
dev) dir=debug ;;
*) echo "deb-capi.sh: FW6_DEB_PROFILE must be release or dev, not $profile" >&2 && exit 1 ;;
esac

cargo build --profile "$profile" --locked -p fw6-capi
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
major=${version%%.*}
revision=$version-1
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
maintainer=$(sed -n 's/^maintainer = "\(.*\)"$/\1/p' crates/fw6/Cargo.toml)
runtime=libfw6-$major

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
DESTDIR=$stage/all LIBDIR=lib/$triplet bash scripts/capi-install.sh /usr "$target/$dir" --static
lib=usr/lib/$triplet
# Debian ships libraries without their debugging sections; the dynamic symbols stay.
strip --strip-unneeded "$stage/all/$lib/libfw6.so.$version"
strip --strip-debug "$stage/all/$lib/libfw6.a"

# The split: the runtime package takes the real file and the soname link, -dev the rest.
mkdir -p "$stage/$runtime/$lib" "$stage/dev"
mv "$stage/all/$lib/libfw6.so.$version" "$stage/all/$lib/libfw6.so.$major" "$stage/$runtime/$lib/"
cp -a "$stage/all/." "$stage/dev/"

# control, copyright and (runtime) the ldconfig trigger, so the soname link is in the cache.
package() {
    local name=$1 root=$2 section=$3 depends=$4 synopsis=$5 long=$6
    install -d "$root/DEBIAN" "$root/usr/share/doc/$name"
    cat >"$root/usr/share/doc/$name/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fw6
Files: *
Copyright: fw6 developers
License: MIT or Apache-2.0
 Either licence, at your option; see the fw6 sources.
EOF
    gzip -9n <CHANGELOG.md >"$root/usr/share/doc/$name/changelog.gz"
    cat >"$root/DEBIAN/control" <<EOF
Package: $name
Source: fw6
Version: $revision
Architecture: $arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: $depends
Section: $section
Priority: optional
Multi-Arch: same
Description: $synopsis
 $long
EOF
    mkdir -p "$target/debian"
    local out=$target/debian/${name}_${revision}_$arch.deb
    dpkg-deb --root-owner-group -Zxz -b "$root" "$out" >/dev/null
    echo "$out"
}
install -d "$stage/$runtime/DEBIAN"
echo "activate-noawait ldconfig" >"$stage/$runtime/DEBIAN/triggers"
# What libfw6.so links against (objdump -p: libc.so.6, libgcc_s.so.1).
package "$runtime" "$stage/$runtime" libs "libc6 (>= 2.34), libgcc-s1 (>= 4.2)" \
    "C client library of fw6, the host firewall with the ICF API" \
    "libfw6 speaks to fw6d over D-Bus in the shape of the ICF's Netfwv6.h."
package libfw6-dev "$stage/dev" libdevel "$runtime (= $revision)" \
    "C client library of fw6: header, pkg-config file, static library" \
    "Build programs against libfw6: cc prog.c \$(pkg-config --cflags --libs fw6)."
