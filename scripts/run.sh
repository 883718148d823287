#!/usr/bin/env bash
# make run: a ready virtual tape library under .run/ (created on first use):
# one changer "vlib" with 2 LTO-8 drives, 16 slots, 2 import/export slots,
# 8 data cartridges and a cleaning cartridge, a pool "daily", every tape
# labelled. Then it prints the state and what to do next.
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
RUNDIR=${RUNDIR:-$(pwd)/.run}
export TAPEFS_CONFIG_DIR=$RUNDIR/etc TAPEFS_STATE_DIR=$RUNDIR/state
mkdir -p "$TAPEFS_CONFIG_DIR" "$TAPEFS_STATE_DIR"
lib=$TAPEFS_STATE_DIR/vlib
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
cat <<MSG

The virtual library is ready. To use it from this shell:

  export TAPEFS_CONFIG_DIR=$TAPEFS_CONFIG_DIR TAPEFS_STATE_DIR=$TAPEFS_STATE_DIR TAPEFS_DRIVE=drive0 PATH=$BIN:\$PATH
  tapefs status                 # drive status (simulated tape time included)
  tapefs load-media TEST01L8 && tapefs read-label
  pmt status ; pmt fsf 1 ; pmtx status
  tapefs eject ; tapefs clean

The FUSE mount (tapefs mount) comes with the FUSE work; see docs/cli.md for every command.
MSG
