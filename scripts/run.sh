#!/usr/bin/env bash
# make run: a ready virtual tape library under .run/ (created on first use):
# one changer "vlib" with 2 LTO-8 drives, 16 slots, 2 import/export slots,
# 8 data cartridges and a cleaning cartridge, a pool "daily", every tape
# labelled. Then it mounts the library on ./mnt in the foreground
# (`tapefs mount`); Ctrl-C unmounts. MNT overrides the mount point.
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
RUNDIR=${RUNDIR:-$(pwd)/.run}
export TAPEFS_CONFIG_DIR=$RUNDIR/etc TAPEFS_STATE_DIR=$RUNDIR/state
mkdir -p "$TAPEFS_CONFIG_DIR" "$TAPEFS_STATE_DIR"
lib=$TAPEFS_STATE_DIR/vlib
MNT=${MNT:-$(pwd)/mnt}
t() { echo "+ tapefs $*" >&2; "$BIN/tapefs" "$@"; }

if [ ! -f "$lib/library.json" ]; then
  echo "first run: creating a virtual tape library in $lib" >&2
  t vtape create "$lib" --slots 16 --drives 2 --import-export 2 --cartridges 8 \
    --barcode-prefix TEST --cleaning 1 --generation LTO-8 --capacity 4GiB
fi
"$BIN/tapefs" changer config vlib >/dev/null 2>&1 || t changer create vlib --path "$lib"
for n in 0 1; do
  "$BIN/tapefs" drive config "drive$n" >/dev/null 2>&1 ||
    t drive create "drive$n" --path "$lib/drive$n" --changer vlib --changer-drivenum "$n"
done
"$BIN/tapefs" pool config daily >/dev/null 2>&1 || t pool create daily --drive drive0 --allocation daily --retention 7days
export TAPEFS_DRIVE=drive0
t barcode-label --pool daily >/dev/null
t changer status vlib
t media list
if grep -qs " $MNT fuse.tapefs " /proc/mounts; then
  if stat "$MNT" >/dev/null 2>&1; then
    echo "$MNT is already mounted by a running tapefs: unmount it first (umount $MNT, or fusermount3 -u $MNT)" >&2
    exit 1
  fi
  # Its daemon died ("Transport endpoint is not connected"): detach it
  # here, since mkdir -p fails on it before the daemon's own check.
  echo "$MNT is a stale tapefs mount (its daemon died): detaching it" >&2
  fusermount3 -uz "$MNT" 2>/dev/null || umount -l "$MNT"
fi
mkdir -p "$MNT"
cat <<MSG

The virtual library is ready and mounted on $MNT (Ctrl-C unmounts).
From another shell:

  export TAPEFS_CONFIG_DIR=$TAPEFS_CONFIG_DIR TAPEFS_STATE_DIR=$TAPEFS_STATE_DIR TAPEFS_DRIVE=drive0 PATH=$BIN:\$PATH
  ls $MNT/changers/vlib/slots/ ; cat $MNT/status $MNT/drives/drive0/status
  echo TEST01L8 > $MNT/drives/drive0/load ; echo > $MNT/drives/drive0/eject
  echo > $MNT/drives/drive0/clean ; cat $MNT/drives/drive0/clean
  tapefs media list             # forwarded to the daemon while it runs
  pmt status ; pmtx status      # after unmounting (the daemon holds the devices)

See docs/fuse.md for the tree and docs/cli.md for every command.

MSG
exec "$BIN/tapefs" mount "$MNT" --foreground
