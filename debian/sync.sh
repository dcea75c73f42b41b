#!/usr/bin/env bash
# Derives the Debian package's configuration and systemd units from the repository's own files, with
# the package's paths: /usr/bin/alipay-recon, /etc/alipay-recon/alipay-recon.toml, state under
# /var/lib/alipay-recon, the system user alipay-recon. The results are committed (cargo-deb packages
# files that exist); `bash debian/sync.sh --check` (run by .ci/run) fails when they are out of date.
#   bash debian/sync.sh           regenerate debian/generated/
#   bash debian/sync.sh --check   compare only
set -euo pipefail
cd "$(dirname "$0")/.."
out=debian/generated
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The annotated example, with the state paths made absolute (relative paths would resolve against
# /etc/alipay-recon). Keys stay relative: /etc/alipay-recon/keys/.
{
  echo "# Installed by the Debian package alipay-recon as /etc/alipay-recon/alipay-recon.toml (a conffile: your"
  echo "# edits are kept on upgrade). State lives in /var/lib/alipay-recon; keys go in /etc/alipay-recon/keys/"
  echo "# (readable by group alipay-recon). Check it with: sudo -u alipay-recon alipay-recon doctor"
  echo "#"
  sed -e 's|^database = "data/|database = "/var/lib/alipay-recon/data/|' \
      -e 's|^archive_dir = "data/|archive_dir = "/var/lib/alipay-recon/data/|' \
      -e 's|^reports_dir = "reports"|reports_dir = "/var/lib/alipay-recon/reports"|' \
      -e 's|^dir = "outbox-eml"|dir = "/var/lib/alipay-recon/outbox-eml"|' \
      alipay-recon.example.toml
} > "$tmp/alipay-recon.toml"
for k in '^database = "/var/lib/' '^archive_dir = "/var/lib/' '^reports_dir = "/var/lib/' '^dir = "/var/lib/'; do
  grep -q "$k" "$tmp/alipay-recon.toml" || { echo "sync.sh: alipay-recon.example.toml changed: no line $k after rewriting" >&2; exit 2; }
done

# The units: package paths and user; the "Install: copy … adjust …" comments become "enable with".
for u in alipay-recon.service alipay-recon.timer alipay-recon-daemon.service alipay-recon-outbox.service alipay-recon-outbox.timer; do
  sed -e 's|^User=alipay$|User=alipay-recon|' \
      -e 's|^Group=alipay$|Group=alipay-recon|' \
      -e 's|^WorkingDirectory=/srv/alipay-recon$|WorkingDirectory=/var/lib/alipay-recon|' \
      -e 's|/usr/local/bin/alipay-recon --config /srv/alipay-recon/alipay-recon.toml|/usr/bin/alipay-recon --config /etc/alipay-recon/alipay-recon.toml|' \
      -e 's|^# Install: copy .*|# Installed (not enabled) by the Debian package alipay-recon. To use it:|' \
      -e 's|^#   systemctl daemon-reload && systemctl enable --now|#   systemctl enable --now|' \
      "schedules/$u" > "$tmp/$u"
  if grep -nE '/srv/|/usr/local/|^User=alipay$' "$tmp/$u"; then
    echo "sync.sh: schedules/$u has a path or user this script does not rewrite" >&2; exit 2
  fi
done
cp schedules/alipay-recon.toml "$tmp/schedule.toml"

if [[ "${1:-}" == "--check" ]]; then
  if ! diff -ru "$out" "$tmp" >&2; then
    echo "debian/generated/ is out of date: run bash debian/sync.sh and commit the result" >&2
    exit 1
  fi
  echo "debian/generated/ is up to date"
else
  rm -rf "$out" && mkdir -p "$out" && cp "$tmp"/* "$out"/
  echo "wrote $out/"
fi
