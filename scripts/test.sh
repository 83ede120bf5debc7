#!/usr/bin/env bash
# Every check and test of fw6: formatting, lints, licences, then the whole test suite.
# Privileged tests (network namespaces, nftables, dbus-daemon, polkitd) need root and fail
# loudly without it; they never skip.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "licence policy (no GPL in what we ship)"
python3 scripts/licenses.py

step "python: mypy --strict (python/)"
(cd python && /usr/bin/mypy --strict --cache-dir=/dev/null)

step "tests"
cargo test --workspace --locked -- --test-threads="${FW6_TEST_THREADS:-2}"

# The README's first quick-start command, from this checkout: it ends with checks (a port
# opened with fw6, a peer connection that passes, one that is dropped) and fails if one fails.
# Its own name, so a developer's lab (fw6lab) is left alone; `down` first clears a lab left
# over by an interrupted run. It reuses the debug binaries the tests just built.
step "sandbox lab (scripts/lab.sh up, then down)"
export FW6_LAB_NAME=fw6ci
bash scripts/lab.sh down >/dev/null
if ! bash scripts/lab.sh up; then
    bash scripts/lab.sh down
    echo "scripts/lab.sh up failed" >&2
    exit 1
fi
bash scripts/lab.sh down

# The Debian package under a booted systemd (a Debian 12 container, systemd-nspawn): install,
# start, polkit, restarts, boot ordering, upgrade, remove and purge, each a named check
# (docs/install.md). Packages the debug build; the root file system is cached in the target dir.
step "booted-system test (scripts/systemd-test.sh)"
bash scripts/systemd-test.sh

# Debian 12's stock kernel (6.1, nf_tables as modules, no `persist` table flag) in a qemu VM
# with systemd as PID 1: the package started with no nf_tables module loaded, then the
# privileged kernel and daemon tests that a kernel difference can break (docs/testing.md).
step "Linux 6.1 VM test (scripts/vm-test.sh)"
bash scripts/vm-test.sh --suite ci --kernel stock

# Every benchmark (crates/fw6-bench, BENCHMARKS.md) with tiny sizes and short runs, so they
# cannot rot: fails if a benchmark errors; its figures and targets are not judged here. Debug
# binaries (the tests built most of them already); namespaces and bus are its own.
step "benchmark smoke run (fw6-bench --smoke)"
cargo build --locked -p fw6d -p fw6 -p fw6-bench -p fw6-capi
"${CARGO_TARGET_DIR:-target}/debug/fw6-bench" --smoke
