#!/usr/bin/env bash
# Runs every test of passpoint-aka: installs the system packages the tests
# need (Debian/Ubuntu, as root, idempotent), then format, lint, build, test.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages
ensure_rust

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo build (binaries the integration tests drive)"
cargo build --workspace --bins
step "cargo test"
cargo test --workspace
