#!/usr/bin/env bash
# CI: build the Debian package, install it with apt, run the demo as the package's user, check the
# units, purge, and check that nothing is left but what the operator kept. Runs as root.
#   bash debian/ci-package-test.sh [--profile dev|release]
# CI packages the debug build it has already made (`cargo deb --no-build --profile dev`, a few seconds)
# instead of a second, release build of polars (cargo deb's default, 10+ minutes on 2 cores): the
# package's layout and maintainer scripts are the same; the binary is the unoptimised one.
# (cargo-deb 3.8 warns that --profile dev may become an error in a future version: both scripts install 3.x.)
set -euo pipefail
cd "$(dirname "$0")/.."
profile=dev
[[ "${1:-}" == "--profile" ]] && profile=$2
say() { printf 'package: %s\n' "$*"; }
fail() { printf 'package: FAILED: %s\n' "$*" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive

bash debian/sync.sh --check
command -v cargo-deb >/dev/null || cargo install --locked cargo-deb --version '^3.8'
# cargo-deb computes the package's library dependencies ($auto) with dpkg-shlibdeps.
if ! command -v dpkg-shlibdeps >/dev/null; then
  say "installing dpkg-dev (dpkg-shlibdeps, for the package's dependencies)"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends dpkg-dev
fi

if dpkg-query -W -f='${Status}' alipay-recon 2>/dev/null | grep -q 'installed\|config-files'; then
  say "purging a leftover alipay-recon package first"
  apt-get purge -y -qq alipay-recon
fi

if [[ $profile == release ]]; then
  cargo deb --locked
else
  cargo build --locked --bin alipay-recon --profile "$profile"
  cargo deb --no-build --profile "$profile"
fi
deb=$(ls -t "${CARGO_TARGET_DIR:-target}"/debian/alipay-recon_*.deb | head -1)
say "built $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --contents "$deb"

say "install"
apt-get install -y -qq "$(realpath "$deb")"
test -x /usr/bin/alipay-recon || fail "/usr/bin/alipay-recon missing"
getent passwd alipay-recon >/dev/null || fail "no system user alipay-recon"
[[ "$(stat -c %U:%a /var/lib/alipay-recon)" == alipay-recon:750 ]] || fail "/var/lib/alipay-recon: $(stat -c %U:%a /var/lib/alipay-recon)"
dpkg-query -W -f='${Conffiles}\n' alipay-recon | grep -q ' /etc/alipay-recon/alipay-recon.toml ' \
  || fail "/etc/alipay-recon/alipay-recon.toml is not a conffile"
for u in alipay-recon.service alipay-recon.timer alipay-recon-daemon.service alipay-recon-outbox.service \
  alipay-recon-outbox.timer; do
  test -f "/usr/lib/systemd/system/$u" || fail "unit $u not installed"
done
if ls /etc/systemd/system/*.wants/alipay-recon* >/dev/null 2>&1; then fail "a unit was enabled by the package"; fi
/usr/bin/alipay-recon --version

say "demo as the package's user (exit 1 = done, items need attention: expected)"
set +e
runuser -u alipay-recon -- sh -c 'cd /var/lib/alipay-recon && exec alipay-recon demo'
rc=$?
set -e
[[ $rc == 1 ]] || fail "demo exited $rc, expected 1"
ls /var/lib/alipay-recon/alipay-recon-demo/reports/*/report.html >/dev/null || fail "the demo wrote no report.html"
say "the packaged configuration and schedule parse"
runuser -u alipay-recon -- alipay-recon --config /etc/alipay-recon/alipay-recon.toml daemon check

if command -v systemd-analyze >/dev/null; then
  say "systemd-analyze verify"
  # Missing network-online.target etc. outside a booted system would be noise: only our units' own errors fail.
  systemd-analyze verify /usr/lib/systemd/system/alipay-recon.service /usr/lib/systemd/system/alipay-recon.timer \
    /usr/lib/systemd/system/alipay-recon-daemon.service /usr/lib/systemd/system/alipay-recon-outbox.service \
    /usr/lib/systemd/system/alipay-recon-outbox.timer
else
  say "no systemd-analyze here: units not verified"
fi

say "purge (an operator's key under /etc/alipay-recon/keys must stay)"
echo "operator's file" > /etc/alipay-recon/keys/operator-kept.pem
apt-get purge -y -qq alipay-recon
left=()
for p in /usr/bin/alipay-recon /var/lib/alipay-recon /etc/alipay-recon/alipay-recon.toml /etc/alipay-recon/schedules \
  /usr/lib/systemd/system/alipay-recon.service /usr/lib/systemd/system/alipay-recon.timer \
  /usr/lib/systemd/system/alipay-recon-daemon.service /usr/lib/systemd/system/alipay-recon-outbox.service \
  /usr/lib/systemd/system/alipay-recon-outbox.timer /usr/share/doc/alipay-recon; do
  [[ -e $p ]] && left+=("$p")
done
getent passwd alipay-recon >/dev/null && left+=("user alipay-recon")
getent group alipay-recon >/dev/null && left+=("group alipay-recon")
dpkg-query -W -f='${Status}' alipay-recon 2>/dev/null | grep -q 'installed\|config-files' && left+=("dpkg entry")
((${#left[@]} == 0)) || fail "left after purge: ${left[*]}"
[[ "$(cat /etc/alipay-recon/keys/operator-kept.pem)" == "operator's file" ]] || fail "the operator's file was deleted"
rm -rf /etc/alipay-recon
say "ok: installed, ran the demo as alipay-recon, purged; only the operator's file was left"
