#!/usr/bin/env bash
# The SCSI lab: tapefs, pmt, pmtx and sgio's device conformance tests run
# inside a QEMU guest whose Linux kernel (Debian's, from its .deb) drives
# tgt's virtual tape library through virtio-scsi with the kernel's sg, st
# and ch drivers. See docs/hardware.md, "The SCSI lab".
#
#   lab.sh [--install] BINDIR OUTDIR
#
# BINDIR holds static binaries: tapefs, pmt, pmtx and sgio.test (the test
# binary of package sgio). OUTDIR receives console.log (the guest's serial
# console, where every result is printed), tgtd.log, qemu.log and times.
# --install first installs the Debian packages the lab needs with apt-get.
#
# Environment:
#   SCSILAB_CACHE   where the extracted kernel is kept between runs
#                   (default ${XDG_CACHE_HOME:-$HOME/.cache}/tapefs-scsilab)
#   SCSILAB_KERNEL  the kernel package (default: what linux-image-amd64
#                   depends on)
#   SCSILAB_ACCEL   QEMU accelerator (default tcg, which CI runs)
#   SCSILAB_TIMEOUT seconds the guest may run (default 1200)
#   SCSILAB_SHELL=1 run the guest on this terminal (no console.log) and
#                   leave a shell there after the tests
#
# Exit status: 0 when the guest ran every step and all passed, 1 when a
# step failed, 2 when the lab could not be set up (the message says why).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
install=0
if [ "${1:-}" = --install ]; then
	install=1
	shift
fi
if [ $# -ne 2 ]; then
	echo "usage: $0 [--install] BINDIR OUTDIR" >&2
	exit 2
fi
bindir=$(cd "$1" && pwd)
out=$(mkdir -p "$2" && cd "$2" && pwd)
cache=${SCSILAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tapefs-scsilab}
accel=${SCSILAB_ACCEL:-tcg}
timeout_s=${SCSILAB_TIMEOUT:-1200}
packages=(qemu-system-x86 qemu-block-extra busybox-static cpio tgt)

die() {
	echo "scsilab: $*" >&2
	exit 2
}
stamp() { echo "$1 $(date +%s.%N)" >>"$out/times"; }
: >"$out/times"
stamp start

if [ $install = 1 ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
	stamp installed
fi
for c in qemu-system-x86_64 tgtd tgtadm tgtimg busybox cpio dpkg-deb apt-get; do
	command -v $c >/dev/null || die "$c not found: install ${packages[*]} (or run with --install)"
done
busybox=$(command -v busybox)
# Debian's busybox-static installs /bin/busybox as the static one.
[ -x /bin/busybox ] && busybox=/bin/busybox
# ldd fails on a static binary.
! ldd "$busybox" >/dev/null 2>&1 || die "$busybox is not statically linked: install busybox-static"
for b in tapefs pmt pmtx sgio.test; do
	[ -x "$bindir/$b" ] || die "$bindir/$b missing"
done

# The kernel, from the Debian package (modules are not compressed in it).
kpkg=${SCSILAB_KERNEL:-$(apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-/ {print $2; exit}')}
[ -n "$kpkg" ] || die "cannot tell which kernel package linux-image-amd64 depends on (apt-get update first)"
kdir=$cache/$kpkg
if [ ! -f "$kdir/ok" ]; then
	rm -rf "$kdir"
	mkdir -p "$kdir/deb"
	(cd "$kdir/deb" && apt-get download "$kpkg" >"$out/apt-download.log" 2>&1) ||
		die "apt-get download $kpkg failed: $(tail -1 "$out/apt-download.log")"
	dpkg-deb -x "$kdir"/deb/*.deb "$kdir/x"
	rm -rf "$kdir/deb"
	touch "$kdir/ok"
fi
vmlinuz=$(ls "$kdir"/x/boot/vmlinuz-*)
moddir=$(ls -d "$kdir"/x/lib/modules/*)/kernel
stamp kernel

# The initramfs: busybox, the modules in load order, the binaries and the
# guest scripts.
root=$out/initramfs
rm -rf "$root"
mkdir -p "$root"/{bin,lib/modules,proc,sys,dev,tmp,run,etc}
cp "$busybox" "$root/bin/busybox"
modules=(scsi_common scsi_mod virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_scsi st ch sg)
for m in "${modules[@]}"; do
	f=$(find "$moddir" -name "$m.ko*" | head -1)
	[ -n "$f" ] || die "module $m not in $kpkg"
	case $f in
	*.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;;
	*.zst) zstd -dqc "$f" >"$root/lib/modules/$m.ko" ;;
	*) cp "$f" "$root/lib/modules/$m.ko" ;;
	esac
done
echo "${modules[*]}" >"$root/lib/modules/order"
cp "$bindir"/{tapefs,pmt,pmtx,sgio.test} "$root/bin/"
cp "$here/init" "$root/init"
cp "$here/guest.sh" "$root/guest.sh"
chmod +x "$root/init" "$root/guest.sh"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
[ "${SCSILAB_SHELL:-0}" = 1 ] && touch "$root/shell"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$out/initramfs.cpio"
rm -rf "$root"
stamp initramfs

# tgt's library: 2 drives (LUNs 1, 2), a changer (LUN 3) with 6 storage
# slots, 1 import/export slot and 4 cartridges, on an iSCSI port of its own.
work=$out/tgt
rm -rf "$work"
mkdir -p "$work/media"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + RANDOM % 20000)))
ctl=$((1000 + RANDOM % 30000))
target=iqn.2026-11.tapefs:lab
tgtd -f -C $ctl --iscsi portal=127.0.0.1:$port >"$out/tgtd.log" 2>&1 &
tgtd_pid=$!
qemu_pid=
cleanup() {
	local rc=$?
	if [ -n "$qemu_pid" ]; then
		kill "$qemu_pid" 2>/dev/null || true
		wait "$qemu_pid" 2>/dev/null || true
	fi
	# tgtd does not end on SIGTERM while it serves a target.
	kill -9 "$tgtd_pid" 2>/dev/null || true
	wait "$tgtd_pid" 2>/dev/null || true
	rm -f /run/tgtd/socket.$ctl /run/tgtd/socket.$ctl.lock
	exit $rc
}
trap cleanup EXIT
adm() { tgtadm -C $ctl --lld iscsi "$@" >>"$out/tgtd.log" 2>&1 || die "tgtadm $*: $(tail -2 "$out/tgtd.log")"; }
for i in $(seq 100); do
	tgtadm -C $ctl --op show --mode system >/dev/null 2>&1 && break
	[ $i = 100 ] && die "tgtd did not come up: $(tail -3 "$out/tgtd.log")"
	sleep 0.05
done
img() { tgtimg --op new --device-type tape --barcode "$1" --size 64 --type "$2" --file "$work/media/$1" --thin-provisioning >/dev/null; }
adm --op new --mode target --tid 1 -T $target
img NOTAPE data
drives=2
for l in $(seq $drives); do
	adm --mode logicalunit --op new --tid 1 --lun $l -b "$work/media/NOTAPE" --device-type=tape
	adm --mode logicalunit --op update --tid 1 --lun $l --params online=0
done
cl=$((drives + 1))
head -c 1024 /dev/zero >"$work/smc"
adm --mode logicalunit --op new --tid 1 --lun $cl -b "$work/smc" --device-type=changer
upd() { adm --mode logicalunit --op update --tid 1 --lun $cl --params "$1"; }
upd media_home="$work/media"
upd element_type=4,start_address=1,quantity=$drives
for l in $(seq $drives); do upd element_type=4,address=$l,tid=1,lun=$l; done
upd element_type=1,start_address=$((drives + 1)),quantity=1
slots=6
upd element_type=2,start_address=$((drives + 2)),quantity=$slots
upd element_type=3,start_address=$((drives + 2 + slots)),quantity=1
i=0
for bc in TGT001L8 TGT002L8 TGT003L8 TGT004L8; do
	img $bc data
	upd element_type=2,address=$((drives + 2 + i)),barcode=$bc,sides=1
	i=$((i + 1))
done
adm --op bind --mode target --tid 1 -I ALL
stamp tgt

# QEMU: each LUN is a scsi-generic device on virtio-scsi, reached through
# QEMU's own iSCSI initiator (qemu-block-extra); the guest sees them as
# 0:0:0:1..3 and its sg, st and ch drivers bind to them.
serial=(-monitor none -serial "file:$out/console.log")
if [ "${SCSILAB_SHELL:-0}" = 1 ]; then
	serial=(-serial mon:stdio)
fi
args=(-machine q35 -accel "$accel" -m 1536 -smp 1 -nodefaults -no-reboot
	-display none "${serial[@]}"
	-kernel "$vmlinuz" -initrd "$out/initramfs.cpio"
	-append "console=ttyS0 panic=-1 loglevel=4"
	-iscsi initiator-name=iqn.2026-11.tapefs:lab-guest
	-device virtio-scsi-pci,id=scsi0)
for l in $(seq $cl); do
	args+=(-drive "file=iscsi://127.0.0.1:$port/$target/$l,if=none,id=lun$l,format=raw,cache=none"
		-device "scsi-generic,drive=lun$l,bus=scsi0.0,channel=0,scsi-id=0,lun=$l")
done
: >"$out/console.log"
if [ "${SCSILAB_SHELL:-0}" = 1 ]; then
	qemu-system-x86_64 "${args[@]}"
	exit 0
fi
qemu-system-x86_64 "${args[@]}" >"$out/qemu.log" 2>&1 &
qemu_pid=$!
stamp qemu
deadline=$((SECONDS + timeout_s))
while kill -0 $qemu_pid 2>/dev/null; do
	if [ $SECONDS -ge $deadline ]; then
		echo "scsilab: guest still running after ${timeout_s}s; killed" >>"$out/console.log"
		kill $qemu_pid
		break
	fi
	sleep 1
done
wait $qemu_pid || true
qemu_pid=
stamp poweroff
# The serial console ends its lines with CR LF.
sed -i 's/\r$//' "$out/console.log"
if ! grep -q '^SCSILAB DONE' "$out/console.log"; then
	echo "scsilab: the guest did not finish; qemu said:" >&2
	tail -5 "$out/qemu.log" >&2
	echo "console (last lines):" >&2
	tail -20 "$out/console.log" >&2
	exit 1
fi
grep -q '^SCSILAB DONE failed=0$' "$out/console.log" || exit 1
