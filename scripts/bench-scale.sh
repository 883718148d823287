#!/usr/bin/env bash
# make bench-scale: how time and memory per file grow with the number of
# files in one snapshot (tapefs's scale targets), beside tar -cf + sync of
# the same tree in the same run. A fresh state directory and library for
# each size.
#
#   BENCH_SCALE_N   sizes to run (default "250000 1000000 2000000")
#   BENCH_DIR       where to work (default: a temporary directory under /var/tmp)
#   BENCH_SCALE_FUSE=0  leave out the mount (find, ls -l)
#   BENCH_SCALE_FUSE_ONLY=1  only the backup and the mount (no tar, second
#                       backup or restores)
#   BENCH_SCALE_BASE_BIN=DIR  also mount with the tapefs in DIR (a build of
#                       the baseline) over the same snapshot, right before
#                       this build's mount, and print both
set -euo pipefail
BIN=${BIN:-$(pwd)/bin}
NS=${BENCH_SCALE_N:-250000 1000000 2000000}
work=${BENCH_DIR:-$(mktemp -d /var/tmp/tapefs-bench-scale.XXXXXX)}
root=$(cd "$(dirname "$0")/.." && pwd)
command -v /usr/bin/time >/dev/null || { echo "bench-scale needs GNU time (apt-get install time)" >&2; exit 1; }
mnt=$work/mnt
cleanup() { fusermount3 -u "$mnt" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
(cd "$root" && ${GO:-go} build -o "$work/mktree" ./test/tools/mktree)

drop() { sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true; }
# m LABEL CMD...: run CMD, record its wall seconds and peak RSS (MiB) as
# LABEL_s and LABEL_mb; a failure stops the bench with its output.
# With MAYFAIL=1 a failure is recorded (LABEL_fail) instead (a baseline
# build may fail where the current one must not).
m() {
	local label=$1; shift
	printf -v "${label}_fail" '%s' ""
	if ! /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/out" 2>"$work/err"; then
		if [ "${MAYFAIL:-0}" = 1 ]; then
			printf -v "${label}_fail" 'FAILED: %s' "$(grep -v '^Command exited' "$work/err" | tail -1 | cut -c1-100)"
		else
			echo "$label failed: $*" >&2; tail -5 "$work/err" >&2; exit 1
		fi
	fi
	read -r s kb < <(tail -1 "$work/time")
	printf -v "${label}_s" '%s' "$s"
	printf -v "${label}_mb" '%s' "$((kb / 1024))"
}
us() { awk "BEGIN{printf \"%.1f\", $1 * 1e6 / $2}"; }
json() { grep -o "\"$1\":\"[^\"]*\"" | sed -n 1p | cut -d'"' -f4; }
dusize() { du -sb "$1" | cut -f1; }
# firstof DIR PATTERN: the first name in DIR that matches PATTERN, in
# glob (name) order. Not `ls | head -1`: with pipefail, ls dies of SIGPIPE
# once its output passes a pipe buffer (2,000 directories at 2M files) and
# stops the bench.
firstof() { (cd "$1" && for f in $2; do echo "$f"; break; done); }

# mount_bench LABEL BINDIR: mount with BINDIR's tapefs; a first find over
# the snapshot (cold: fresh daemon, caches dropped), the daemon's peak and
# current RSS, a second find, a find -printf (a stat per entry) over the
# media-set view (its own nodes), and ls -l of a 1,000-entry directory
# twice (the second warm).
mount_bench() {
	local label=$1 bindir=$2
	mkdir -p "$mnt"
	drop
	"$bindir/tapefs" mount "$mnt"
	local pid; pid=$(sed -n 's/^pid //p' "$d/state/daemon.lock")
	local sdir=$mnt/pools/bench/snapshots/$snap
	local vdir=$mnt/pools/bench/media-sets/$set_uuid/snapshots/$snap
	local s0 s1 s2 s3 s4 s5 l0 l1 entries hwm rss first
	s0=$(date +%s.%N); entries=$(find "$sdir" | wc -l); s1=$(date +%s.%N)
	hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status"); rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
	s2=$(date +%s.%N); find "$sdir" >/dev/null; s3=$(date +%s.%N)
	s4=$(date +%s.%N); find "$vdir" -printf '%n %s %p\n' >/dev/null; s5=$(date +%s.%N)
	local shwm; shwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
	first=$(firstof "$sdir" 'd*/')
	ls -l "$sdir/$first" >/dev/null
	l0=$(date +%s.%N); ls -l "$sdir/$first" >/dev/null; l1=$(date +%s.%N)
	fusermount3 -u "$mnt"
	printf '  %-44s %8.0f entries/s, daemon peak %s MiB, %s MiB after  (target ≥ 100000, ≤ 512 MiB)\n' \
		"find over the snapshot through the mount$label" "$(awk "BEGIN{print $entries / ($s1 - $s0)}")" "$((hwm / 1024))" "$((rss / 1024))"
	printf '  %-44s %8.0f entries/s\n' "second find$label" "$(awk "BEGIN{print $entries / ($s3 - $s2)}")"
	printf '  %-44s %8.0f entries/s, daemon peak %s MiB\n' "find -printf (stat) over the set view$label" "$(awk "BEGIN{print $entries / ($s5 - $s4)}")" "$((shwm / 1024))"
	printf '  %-44s %8.0f ms  (target ≤ 50)\n' "ls -l of a 1,000-entry directory, warm$label" "$(awk "BEGIN{print ($l1 - $l0) * 1000}")"
}

fuse_part() {
	[ "${BENCH_SCALE_FUSE:-1}" = 1 ] || return 0
	if [ -n "${BENCH_SCALE_BASE_BIN:-}" ]; then
		mount_bench " (baseline)" "$BENCH_SCALE_BASE_BIN"
	fi
	mount_bench "" "$BIN"
}

printf 'tapefs at scale: tiny files (1 B - 1 KiB), 1,000 to a directory; wall s / peak RSS MiB; µs per file\n'
for n in $NS; do
	d=$work/n$n
	mkdir -p "$d"
	export TAPEFS_CONFIG_DIR=$d/etc TAPEFS_STATE_DIR=$d/state TAPEFS_DRIVE=drive0
	src=$d/src/tree
	"$work/mktree" "$src" "$n"
	"$BIN/tapefs" vtape create "$d/vlib" --slots 8 --drives 1 --cartridges 4 --cleaning 0 --generation LTO-8 >/dev/null 2>&1
	"$BIN/tapefs" changer create vlib --path "$d/vlib" >/dev/null
	"$BIN/tapefs" drive create drive0 --path "$d/vlib/drive0" --changer vlib >/dev/null
	"$BIN/tapefs" pool create bench --drive drive0 >/dev/null
	"$BIN/tapefs" barcode-label --pool bench >/dev/null 2>&1

	if [ "${BENCH_SCALE_FUSE_ONLY:-0}" = 1 ]; then
		drop; m backup "$BIN/tapefs" backup "$src" bench --output-format json
		set_uuid=$(json media-set-uuid < "$work/out"); snap=$(json snapshot < "$work/out")
		printf '\nN = %s\n' "$n"
		printf '  %-44s %8s s %7s MiB  %7s µs/file\n' "tapefs backup" "$backup_s" "$backup_mb" "$(us "$backup_s" "$n")"
		fuse_part
		rm -rf "$d"
		continue
	fi
	drop; m tar bash -c "tar -cf '$d/a.tar' -C '$d/src' tree && sync"
	rm -f "$d/a.tar"
	drop; m backup "$BIN/tapefs" backup "$src" bench --output-format json
	set_uuid=$(json media-set-uuid < "$work/out"); snap=$(json snapshot < "$work/out")
	cat1=$(dusize "$d/state/catalog")
	drop; m rebackup "$BIN/tapefs" backup "$src" bench
	cat2=$(dusize "$d/state/catalog")
	one=$(firstof "$src" 'd*/')
	one=$one$(firstof "$src/$one" '*')
	m one "$BIN/tapefs" restore "$set_uuid" "$d/one" "$snap" --path "$one"
	m dry "$BIN/tapefs" restore "$set_uuid" "$d/dry" "$snap" --dry-run
	drop; MAYFAIL=1 m restore bash -c "ulimit -n 1024 && exec '$BIN/tapefs' restore '$set_uuid' '$d/out' '$snap'"
	got=$(find "$d/out/$snap" -type f 2>/dev/null | wc -l)
	rm -rf "$d/out" "$d/one"

	printf '\nN = %s\n' "$n"
	printf '  %-44s %8s s %7s MiB  %7s µs/file\n' "tar -cf + sync" "$tar_s" "$tar_mb" "$(us "$tar_s" "$n")"
	printf '  %-44s %8s s %7s MiB  %7s µs/file  (%.2f× tar; target ≤ 1.0× at 1M, RSS ≤ 256 MiB at 2M)\n' "tapefs backup" "$backup_s" "$backup_mb" "$(us "$backup_s" "$n")" "$(awk "BEGIN{print $backup_s / $tar_s}")"
	printf '  %-44s %8s s %7s MiB  %7s µs/file\n' "tapefs backup, unchanged tree (dedup)" "$rebackup_s" "$rebackup_mb" "$(us "$rebackup_s" "$n")"
	printf '  %-44s %8s B  (%.1f B/file; target ≤ 10)\n' "catalog growth of the unchanged snapshot" "$((cat2 - cat1))" "$(awk "BEGIN{print ($cat2 - $cat1) / $n}")"
	printf '  %-44s %8s s %7s MiB  (target ≤ 1 s, ≤ 128 MiB)\n' "restore --path of one file" "$one_s" "$one_mb"
	printf '  %-44s %8s s %7s MiB  (target ≤ 256 MiB)\n' "restore --dry-run of the whole snapshot" "$dry_s" "$dry_mb"
	printf '  %-44s %8s s %7s MiB  %7s µs/file  %s of %s files restored (target: all, ≤ 256 MiB)\n' "restore under ulimit -n 1024" "$restore_s" "$restore_mb" "$(us "$restore_s" "$n")" "$got" "$n"
	[ -z "$restore_fail" ] || printf '    %s\n' "$restore_fail"

	fuse_part
	rm -rf "$d"
done
