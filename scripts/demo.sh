#!/usr/bin/env bash
# The README's first quick-start command: builds the three binaries (release)
# and runs `testbed demo` (as root; it installs missing Debian packages).
# Arguments are passed to `testbed demo` (--method aka|aka-prime, --sim soft|pcsc, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$(id -u)" -ne 0 ]; then
  echo "demo.sh: run as root (network namespaces, pcscd, apt-get)" >&2
  exit 2
fi
# shellcheck source=scripts/packages.sh
. scripts/packages.sh
ensure_packages
ensure_rust
cargo build --release -p aaa-server -p supplicant -p testbed
target_dir="${CARGO_TARGET_DIR:-target}"
exec "$target_dir/release/testbed" --bin-dir "$target_dir/release" demo "$@"
