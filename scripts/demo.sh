#!/usr/bin/env bash
# make demo: the reference's tape quickstart (configure changer and drive,
# create a pool, label the tapes) against a fresh virtual library in a
# temporary directory, printing each command and its output.
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export TAPEFS_CONFIG_DIR=$tmp/etc TAPEFS_STATE_DIR=$tmp/state PATH=$BIN:$PATH
run() { printf '\n# %s\n' "$*"; "$@"; }
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
run tapefs pool create daily --drive mydrive
run tapefs pool update daily --allocation daily --retention 7days
run tapefs pool list
export TAPEFS_DRIVE=mydrive
run tapefs barcode-label --pool daily
run tapefs load-media TEST01L8
run tapefs read-label
run tapefs media list
run tapefs clean
run tapefs changer status
