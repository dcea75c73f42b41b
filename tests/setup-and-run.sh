#!/usr/bin/env bash
# The README's test command: installs what the tests need when it is missing, then runs them.
#
#   bash tests/setup-and-run.sh [nextest arguments…]     e.g.  -E 'test(demo)'
#   bash tests/setup-and-run.sh --install-only           only the installs (CI calls this before building)
#
# The tests start a real OpenSSH sshd (with a chrooted SFTP user: `useradd`, /run) and a real SMTP
# server, so they run as root. What this installs, each only when missing:
#   - Debian/Ubuntu packages (apt-get): openssh-server openssh-client python3-aiosmtpd (test servers),
#     chromium (the browser tests render report.html and the email in headless Chromium), libssl-dev pkg-config zlib1g-dev (to build ssh2's libssh2 and native-tls), gcc libc6-dev (the C
#     compiler the build scripts and the linker use), passwd (useradd), sqlite3 (the OS's own SQLite CLI:
#     tests/integration/old_sqlite.rs checks that it can read the database);
#   - the test runner cargo-nextest (`cargo install --locked cargo-nextest`, about 3 min to build).
# A user who is not root is told the one command to run instead; nothing is installed behind their back.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(openssh-server openssh-client python3-aiosmtpd chromium libssl-dev pkg-config zlib1g-dev gcc libc6-dev passwd sqlite3)
install_only=0
if [[ "${1:-}" == "--install-only" ]]; then
  install_only=1
  shift
fi

say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [[ "$(id -u)" != 0 ]]; then
  # The SFTP tests create a system user and a root-owned chroot under /run: they cannot run unprivileged.
  if ((${#missing[@]})); then
    say "missing Debian packages: ${missing[*]}"
  fi
  say "the tests start a private sshd with a chrooted user and must run as root. Run:"
  say "    sudo env \"PATH=\$PATH\" \"HOME=\$HOME\" bash tests/setup-and-run.sh${*:+ $(printf '%q ' "$@")}"
  say "(PATH and HOME so that root finds your Rust toolchain; it installs, when missing:"
  say " apt-get install ${APT_PACKAGES[*]}; cargo install --locked cargo-nextest;"
  say " afterwards it gives the build folder and your cargo home back to you)"
  exit 2
fi

if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  say "Debian packages present: ${APT_PACKAGES[*]}"
fi
# sshd needs its privilege-separation folder; /run is a tmpfs, so make it every time.
mkdir -p /run/sshd && chmod 0755 /run/sshd
test -x /usr/sbin/sshd || { say "/usr/sbin/sshd is missing after installing openssh-server"; exit 2; }
# Debian's interpreter, not the first python3 on PATH (that one may not see Debian's packages).
/usr/bin/python3 -c 'import aiosmtpd' || { say "/usr/bin/python3 cannot import aiosmtpd"; exit 2; }
# The browser tests run Chromium headless; check once that it starts (ALIPAY_RECON_CHROMIUM may name
# another binary, e.g. where the distribution's package is a snap that cannot run here).
"${ALIPAY_RECON_CHROMIUM:-chromium}" --headless --no-sandbox --disable-gpu --dump-dom about:blank >/dev/null 2>&1 \
  || { say "Chromium does not start headless (${ALIPAY_RECON_CHROMIUM:-chromium}): the browser tests need it"; exit 2; }

if cargo nextest --version >/dev/null 2>&1; then
  say "test runner present: $(cargo nextest --version 2>/dev/null | head -1)"
else
  say "installing the test runner: cargo install --locked cargo-nextest"
  cargo install --locked cargo-nextest
fi

# Run with sudo by a user: the build folder and the user's cargo home must stay theirs (a later
# `cargo run` as that user would otherwise fail on root-owned files).
# Only folders that are the user's: the build folder of a checkout they own, a cargo home they own.
give_back() {
  [[ -n "${SUDO_UID:-}" && "${SUDO_UID}" != 0 ]] || return 0
  local target="${CARGO_TARGET_DIR:-target}" home="${CARGO_HOME:-$HOME/.cargo}"
  if [[ -e "$target" && "$(stat -c %u .)" == "$SUDO_UID" ]]; then
    chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$target"
  fi
  if [[ -e "$home" && "$(stat -c %u "$home")" == "$SUDO_UID" ]]; then
    chown -R "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" "$home"
  fi
  return 0
}
trap give_back EXIT

((install_only)) && exit 0

say "running: cargo nextest run --locked --no-fail-fast $*"
cargo nextest run --locked --no-fail-fast "$@"
