#!/usr/bin/env bash
# make demo: the README's quickstart, every step, against a fresh virtual
# library in a temporary directory, printing each command and its output:
# configure changer and drive, create a pool, label the tapes, back up,
# look at what is on tape, restore (and compare with the source), then the
# same through the mount when FUSE is there.
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
tmp=$(mktemp -d)
mnt=$tmp/mnt
cleanup() {
  if grep -qs " $mnt fuse.tapefs " /proc/mounts; then
    umount "$mnt" 2>/dev/null || fusermount3 -u "$mnt" 2>/dev/null || umount -l "$mnt"
  fi
  # The daemon releases the state once it has finished its commands.
  for _ in $(seq 100); do
    flock -n "$tmp/state/daemon.lock" true 2>/dev/null && break
    sleep 0.1
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
export TAPEFS_CONFIG_DIR=$tmp/etc TAPEFS_STATE_DIR=$tmp/state PATH=$BIN:$PATH
run() { printf '\n# %s\n' "$*"; "$@"; }

# 1. Tape hardware: a changer and a drive.
run tapefs vtape create "$tmp/vlib" --slots 16 --drives 1 --import-export 2 --cartridges 4 --cleaning 1 --capacity 1GiB
run tapefs changer scan
run tapefs changer create sl3 --path "$tmp/vlib"
run tapefs changer config sl3
run tapefs changer status sl3
run tapefs drive scan
run tapefs drive create mydrive --path "$tmp/vlib/drive0"
run tapefs drive update mydrive --changer sl3 --changer-drivenum 0
run tapefs drive config mydrive
run tapefs drive list
run tapefs status --drive mydrive

# 2. A media pool.
run tapefs pool create daily --drive mydrive
run tapefs pool update daily --allocation daily --retention 7days
run tapefs pool list

# 3. Label the tapes.
export TAPEFS_DRIVE=mydrive
run tapefs barcode-label --pool daily
run tapefs load-media TEST01L8
run tapefs read-label
run tapefs media list

# 4. Back up, look at what is on tape, restore.
src=$tmp/src/www
mkdir -p "$src/htdocs"
echo '<h1>tapefs</h1>' >"$src/htdocs/index.html"
seq 1 20000 >"$src/htdocs/numbers.txt"
ln -s htdocs/index.html "$src/index.html"
run tapefs backup "$src" daily
run tapefs media content
set_uuid=$(tapefs media list --output-format json | sed -n 's/.*"media-set-uuid":"\([^"]*\)".*/\1/p' | head -1)
run tapefs restore "$set_uuid" "$tmp/restore" www --path 'htdocs/*' --dry-run
run tapefs restore "$set_uuid" "$tmp/restore"
run diff -r "$src" "$tmp/restore/www"/*/
echo "restored tree matches the source"

# 5. The same through the mount.
if [ ! -e /dev/fuse ]; then
  echo; echo "# /dev/fuse is missing: the mount part of the quickstart is left out"
  exit 0
fi
mkdir -p "$mnt"
run tapefs mount "$mnt"
run cp -a "$src" "$mnt/pools/daily/incoming/"
run sh -c "echo > '$mnt/pools/daily/commit'"
run ls "$mnt/pools/daily/snapshots/www/"
snap=$(ls "$mnt/pools/daily/snapshots/www/" | tail -1)
run cp -a "$mnt/pools/daily/snapshots/www/$snap/" "$tmp/restore-mnt"
run diff -r "$src" "$tmp/restore-mnt"
echo "copy out of the mount matches the source"
run tapefs media content   # forwarded to the daemon
