#!/usr/bin/env bash
# Runs every test of passpoint-aka: installs the system packages the tests
# need (Debian/Ubuntu, as root, idempotent), then format, lint, build, test.
# This is the README's test command; .ci/run calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# The repository stands alone: a user's clone has nothing beside it, so no
# tracked file may read or link the sibling folder the project was started
# from. The pattern is built in pieces so that this file does not match itself.
outside="../""shared"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  refs=$(git grep -n -F "$outside" -- . || true)
else
  refs=$(grep -rn -F "$outside" --exclude-dir=target --exclude-dir=.git . || true)
fi
if [ -n "$refs" ]; then
  echo "scripts/test.sh: these tracked files mention $outside, which a clone of this repository does not have:" >&2
  echo "$refs" >&2
  echo "move what they need into the repository (test data goes in testdata/)." >&2
  exit 1
fi

# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages
ensure_rust

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# The README's test command is strict, in CI or not: every test that needs
# root, a Debian tool or a service fails when it is missing (the tests read
# CI=true as "never skip"). Only a bare `cargo test` may report NOT RUN.
export CI=true
step() { printf '\n==> %s\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all --check
step "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
step "cargo check (fuzz targets)"
# The fuzz crate is its own workspace (cargo-fuzz needs nightly to run it);
# checking it on stable keeps every target compiling as the code moves.
CARGO_TARGET_DIR="$PWD/target" cargo check --manifest-path fuzz/Cargo.toml --bins
step "cargo build (binaries the integration tests drive)"
cargo build --workspace --bins
step "cargo test"
# Every test binary runs even after a failure, so one run shows every failure.
cargo test --workspace --no-fail-fast
