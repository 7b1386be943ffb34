# Debian packages the tests and the demo need; sourced by test.sh and demo.sh.
# shellcheck shell=bash
PASSPOINT_AKA_PACKAGES=(
  hostapd eapoltest wpasupplicant pcscd vsmartcard-vpcd libpcsclite-dev
  iproute2 tshark tcpdump pkg-config libssl-dev
  systemd man-db adduser binutils
  postgresql
  prometheus
  dnsmasq-base
  freeradius radsecproxy openssl
  freeradius-utils
)

# Installs whatever is missing (idempotent). Without root, says what is needed
# and fails.
ensure_packages() {
  local missing=() p
  for p in "${PASSPOINT_AKA_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing Debian packages: ${missing[*]}" >&2
    echo "run as root, or: sudo apt-get install ${missing[*]}" >&2
    return 1
  fi
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
  stop_freeradius_service
}

# Debian's freeradius package enables a system service on 1812/1813. The
# tests run FreeRADIUS from their own temp configuration on other ports and
# do not need it; stop and disable it when it runs (root, systemd only).
stop_freeradius_service() {
  [ "$(id -u)" -eq 0 ] || return 0
  command -v systemctl >/dev/null 2>&1 || return 0
  if systemctl is-active --quiet freeradius 2>/dev/null; then
    systemctl disable --now freeradius >/dev/null 2>&1 || true
  fi
}

# Rust: Debian's own cargo is too old for edition 2024, so the toolchain comes
# from rustup (https://rustup.rs); say so plainly when it is missing or old.
ensure_rust() {
  [ -d "$HOME/.cargo/bin" ] && export PATH="$HOME/.cargo/bin:$PATH"
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust 1.89 or newer with rustup (https://rustup.rs)" >&2
    return 1
  fi
  local v
  v=$(rustc --version | awk '{print $2}')
  if [ "$(printf '%s\n1.89.0\n' "$v" | sort -V | head -n1)" != "1.89.0" ]; then
    echo "rustc $v is too old: passpoint-aka needs 1.89 or newer (rustup update)" >&2
    return 1
  fi
}
