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

step "tests"
cargo test --workspace --locked -- --test-threads="${FW6_TEST_THREADS:-2}"
