#!/usr/bin/env bash
# Writes the DEBIAN/ control files of the package staged in ROOT (make deb):
# control, md5sums, conffiles-free maintainer scripts that tell systemd
# about the units. VERSION and ARCH come from the environment.
set -euo pipefail
root=$1
: "${VERSION:?}" "${ARCH:?}"
mkdir -p "$root/DEBIAN"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: tapefs
Version: $VERSION
Architecture: $ARCH
Maintainer: tapefs developers <tapefs@localhost>
Installed-Size: $size
Depends: libc6, fuse3
Suggests: tgt
Section: admin
Priority: optional
Description: tape backup system with a FUSE view of the tape library
 tapefs drives LTO tape drives and tape libraries with the commands of
 proxmox-tape (drives, changers, media pools, labels, inventory, backup,
 restore, encryption keys, cleaning), and presents libraries, media pools,
 media sets and snapshots as a FUSE filesystem (mount -t fuse.tapefs).
 pmt and pmtx replace mt and mtx. A built-in virtual tape library runs the
 whole system without tape hardware.
CONTROL
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | sort -z | xargs -0 md5sum) > "$root/DEBIAN/md5sums"
for script in postinst postrm; do
  cat > "$root/DEBIAN/$script" <<'SCRIPT'
#!/bin/sh
set -e
# Let a running systemd see the installed or removed units.
if [ -d /run/systemd/system ]; then
  systemctl --system daemon-reload >/dev/null 2>&1 || true
fi
SCRIPT
  chmod 0755 "$root/DEBIAN/$script"
done
