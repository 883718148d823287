#!/usr/bin/env bash
# make bench: tapefs against tar on the same dataset, in the same run, on
# the same disk. Prints each time and the ratio (tar time / tapefs time:
# above 1 means tapefs is faster). The virtual library writes its
# cartridges to the same filesystem tar writes its archive to.
#
#   BENCH_MB     dataset size in MiB (default 512)
#   BENCH_ROUNDS rounds of the tar/tapefs comparisons (default 3)
#   BENCH_DIR    where to work (default: a temporary directory under /var/tmp)
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
MB=${BENCH_MB:-512}
ROUNDS=${BENCH_ROUNDS:-3}
work=${BENCH_DIR:-$(mktemp -d /var/tmp/tapefs-bench.XXXXXX)}
mnt=$work/mnt
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
export TAPEFS_CONFIG_DIR=$work/etc TAPEFS_STATE_DIR=$work/state TAPEFS_DRIVE=drive0
data=$work/data/bench

echo "dataset: $MB MiB in $work/data (a third large files, a third 1 MiB files, a third 16 KiB files)"
mkdir -p "$data/large" "$data/medium" "$data/small"
third=$((MB / 3))
for i in $(seq 1 4); do head -c $((third * 1024 * 1024 / 4)) /dev/urandom > "$data/large/f$i"; done
for i in $(seq 1 "$third"); do head -c 1048576 /dev/urandom > "$data/medium/f$i"; done
n=$((third * 64))
head -c $((n * 16384)) /dev/urandom | split -b 16384 -a 5 - "$data/small/f"
sync

"$BIN/tapefs" vtape create "$work/vlib" --slots $((ROUNDS + 6)) --drives 1 --cartridges $((ROUNDS + 3)) --cleaning 0 --generation LTO-8 >/dev/null 2>&1
"$BIN/tapefs" changer create vlib --path "$work/vlib"
"$BIN/tapefs" drive create drive0 --path "$work/vlib/drive0" --changer vlib
"$BIN/tapefs" pool create bench --drive drive0
"$BIN/tapefs" barcode-label --pool bench >/dev/null 2>&1

# t CMD...: run CMD quietly and print its wall time in seconds.
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk "BEGIN{print $e - $s}"; }
drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }

# json FIELD: the value of a string field in the JSON on stdin.
json() { grep -o "\"$1\":\"[^\"]*\"" | head -1 | cut -d'"' -f4; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
rate() { awk "BEGIN{printf \"%.0f\", $MB / $1}"; }
median() { sort -g | awk '{v[NR] = $1} END {printf "%.2f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

# Each round measures tar and tapefs back to back on the same data (a new
# media set per round, so the first backup writes everything); the ratios
# of the rounds are summarised by their median, since one run on a shared
# disk can be off by a factor of two.
printf '\n%-6s %-36s %9s %9s %8s\n' "round" "" "tar s" "tapefs s" "ratio"
for round in $(seq 1 "$ROUNDS"); do
	rm -f "$work/a.tar"
	drop; tar_c=$(t bash -c "tar -cf '$work/a.tar' -C '$work/data' bench && sync")
	drop; s=$(date +%s.%N)
	out=$("$BIN/tapefs" backup "$data" bench --force-media-set --output-format json 2>/dev/null)
	e=$(date +%s.%N); tfs_b=$(awk "BEGIN{print $e - $s}")
	set_uuid=$(echo "$out" | json media-set-uuid)
	snap=$(echo "$out" | json snapshot)
	drop; tfs_b2=$(t "$BIN/tapefs" backup "$data" bench)
	rm -rf "$work/out-tar" "$work/out-tfs"; mkdir -p "$work/out-tar" "$work/out-tfs"
	drop; tar_x=$(t bash -c "tar -xf '$work/a.tar' -C '$work/out-tar' && sync")
	drop; tfs_r=$(t bash -c "'$BIN/tapefs' restore '$set_uuid' '$work/out-tfs' '$snap' && sync")
	diff -r "$work/out-tar/bench" "$work/out-tfs/$snap" >/dev/null || { echo "round $round: restored data differs from the source" >&2; exit 1; }
	printf '%-6s %-36s %9.2f %9.2f %8s\n' "$round" "backup vs tar -cf + sync" "$tar_c" "$tfs_b" "$(ratio "$tar_c" "$tfs_b")"
	printf '%-6s %-36s %9.2f %9.2f %8s\n' "$round" "deduplicated re-backup vs tar -cf" "$tar_c" "$tfs_b2" "$(ratio "$tar_c" "$tfs_b2")"
	printf '%-6s %-36s %9.2f %9.2f %8s\n' "$round" "restore vs tar -xf + sync" "$tar_x" "$tfs_r" "$(ratio "$tar_x" "$tfs_r")"
	echo "$(ratio "$tar_c" "$tfs_b") $(ratio "$tar_c" "$tfs_b2") $(ratio "$tar_x" "$tfs_r") $tar_c $tfs_b $tfs_b2 $tar_x $tfs_r" >> "$work/rounds"
done
echo "restored data matches the source in every round"
col() { awk -v c="$1" '{print $c}' "$work/rounds" | median; }
printf '\nmedian of %s rounds                    %9s %8s %s\n' "$ROUNDS" "" "ratio" "(tar/tapefs; target)"
printf '%-45s %8s %s\n' "backup vs tar -cf + sync" "$(col 1)" ">= 1.0"
printf '%-45s %8s %s\n' "deduplicated re-backup vs tar -cf" "$(col 2)" ">= 3.0"
printf '%-45s %8s %s\n' "restore vs tar -xf + sync" "$(col 3)" ">= 0.9"
printf '\nthroughput (medians): tar -cf %s MiB/s, tapefs backup %s MiB/s, re-backup %s MiB/s, tar -xf %s MiB/s, tapefs restore %s MiB/s\n' \
  "$(rate "$(col 4)")" "$(rate "$(col 5)")" "$(rate "$(col 6)")" "$(rate "$(col 7)")" "$(rate "$(col 8)")"
tar_c=$(col 4)

# The FUSE path: cp -a into pools/bench/incoming/ + commit, against tar -cf +
# sync; many small files into incoming/; the daemon's peak RSS (VmHWM).
mkdir -p "$mnt"
"$BIN/tapefs" mount "$mnt"
pid=$(sed -n 's/^pid //p' "$work/state/daemon.lock")
in=$mnt/pools/bench/incoming
# A new media set: the commit writes everything, like a first backup.
drop; fuse_cp=$(t cp -a "$data" "$in/")
fuse_commit=$(t bash -c "echo --force-media-set > '$mnt/pools/bench/commit'")
fuse_c=$(awk "BEGIN{print $fuse_cp + $fuse_commit}")
small=$work/data/small4k
mkdir -p "$small"
head -c $((20000 * 4096)) /dev/urandom | split -b 4096 -a 5 - "$small/f"
drop; small_s=$(t cp -a "$small" "$in/")
# Again with the source in the page cache: the mount's own rate (cp reads
# and writes one file at a time, so a cold source adds its read latency).
small_warm=$(t cp -a "$small" "$in/small4k-warm")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
# The same copy to the local filesystem, for scale.
drop; small_local=$(t cp -a "$small" "$work/small-local")
rm -rf "$work/small-local"
echo > "$mnt/pools/bench/commit"
fusermount3 -u "$mnt"

# The floor: the same copies into a go-fuse filesystem that keeps nothing
# (fusefs/floor_bench_test.go), mounted with tapefs's options: what any
# FUSE daemon pays on this machine before it does any work.
metric() { awk -v u="$1" '{for (i = 2; i <= NF; i++) if ($i == u) print $(i-1)}'; }
root=$(cd "$(dirname "$0")/.." && pwd)
floor() { (cd "$root" && TAPEFS_BENCH_DATASET=$1 ${GO:-go} test -run '^$' -bench 'CopyInFloor' -benchtime 3x ./fusefs) | grep '^BenchmarkCopyInFloor'; }
floor_data=$(floor "$data")
floor_small=$(floor "$small")
floor_c=$(echo "$floor_data" | metric cold-s)
printf '\n%-38s %9s %9s %8s %s\n' "" "tar s" "tapefs s" "ratio" "(tar/tapefs; target)"
printf '%-38s %9.2f %9.2f %8s %s\n' "cp -a into incoming + commit vs tar" "$tar_c" "$fuse_c" "$(ratio "$tar_c" "$fuse_c")" ">= 0.8"
printf '  of which cp -a %.2f s, commit %.2f s\n' "$fuse_cp" "$fuse_commit"
printf '%-38s %9.2f %9.2f %8s %s\n' "  floor: cp -a into a null FUSE fs" "$tar_c" "$floor_c" "$(ratio "$tar_c" "$floor_c")" "(the best any go-fuse daemon can do here)"
files() { awk "BEGIN{printf \"%.0f\", 20000 / $1}"; }
printf '20,000 x 4 KiB files into incoming/ (target >= 5000 files/s): %s files/s from a cold source, %s from a warm one; cp -a of them to the local filesystem from a cold source: %s files/s\n' \
  "$(files "$small_s")" "$(files "$small_warm")" "$(files "$small_local")"
printf '  floor (the same into a null FUSE fs): %s files/s from a cold source, %s from a warm one\n' \
  "$(files "$(echo "$floor_small" | metric cold-s)")" "$(files "$(echo "$floor_small" | metric warm-s)")"
printf 'daemon peak RSS (VmHWM) after the backups: %s MiB (target <= 300)\n' "$((hwm / 1024))"

# Snapshot reads through the mount (Go benchmarks against an in-process
# daemon): find and find -printf over a 1,000,000-entry snapshot built
# straight in the catalog (first find after a fresh engine and mount, then
# warm), and cp -a of a 96 MiB
# snapshot against `tapefs restore` in simulated tape time (worst of 3).
fentries=${BENCH_FIND_ENTRIES:-1000000}
gob=$(cd "$root" && TAPEFS_BENCH_FIND_ENTRIES=$fentries ${GO:-go} test -run '^$' -bench 'SnapshotFindCatalog|SnapshotCopyTapeTime' -benchtime 3x ./fusefs)
findl=$(echo "$gob" | grep 'SnapshotFindCatalog/find-[0-9]')
statl=$(echo "$gob" | grep 'SnapshotFindCatalog/find-stat-[0-9]')
floorl=$(echo "$gob" | grep 'SnapshotFindCatalog/floor-find-[0-9]')
printf '\nfind over a %s-entry snapshot: %.0f entries/s first, %.0f entries/s warm (target >= 100000); %s CPU us/entry first\n' \
  "$fentries" "$(echo "$findl" | metric cold-entries/s)" "$(echo "$findl" | metric warm-entries/s)" "$(echo "$findl" | metric cold-cpu-µs/entry)"
printf '  floor (a tree of the same shape go-fuse serves from memory): %.0f entries/s first; %s CPU us/entry first\n' \
  "$(echo "$floorl" | metric cold-entries/s)" "$(echo "$floorl" | metric cold-cpu-µs/entry)"
printf 'find -printf "%%n %%s" (a stat per entry): %.0f entries/s first, %.0f entries/s warm\n' \
  "$(echo "$statl" | metric cold-entries/s)" "$(echo "$statl" | metric warm-entries/s)"
printf 'cp -a of a snapshot out of the mount: %s x the simulated tape time of tapefs restore (target <= 1.5)\n' \
  "$(echo "$gob" | metric tape-ratio)"
