// Command tapefs administers tape drives, changers, media pools and tapes,
// with the command tree of proxmox-tape, and mounts them as a FUSE
// filesystem (`tapefs mount`). While a mount daemon runs for a state
// directory, every command but the local ones (mount, vtape, help) is
// forwarded to it over its API socket and gives the same output and exit
// code. Installed as /sbin/mount.fuse.tapefs (a symlink), it is the mount
// helper of `mount -t fuse.tapefs` and fstab entries.
//
// Exit codes:
//
//	0  success
//	1  the operation failed (device error, I/O, anything not below)
//	2  bad usage or invalid argument (nothing was changed)
//	3  not found: unknown drive, changer, pool, tape or slot
//	4  busy: the drive, device or catalog is in use
//	5  no medium: no tape in the drive
//	6  refused: the operation would destroy data or break a rule
//	7  no space: no free slot or no writable tape
//	8  ok with warnings: backup wrote its snapshot, but files changed while read
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"tapefs/cmd/internal/cliapp"
	"tapefs/engine"
)

func main() {
	// What tapefs creates for itself (state directory, catalog, spool,
	// locks, virtual libraries, logs, the API socket) is private to its
	// user whatever the caller's umask; what needs another mode gets it
	// explicitly: the configuration directory 0755 and its files 0644
	// (keys 0600), restored files their snapshot's modes, and what
	// clients create in incoming/ the modes they ask for (the kernel
	// applies their umask; the staging store keeps modes as metadata and
	// its own files are 0600).
	syscall.Umask(0o077)
	args := helperArgs(os.Args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	stopProfile := cliapp.StartProfile("tapefs")
	if code, ok := forward(ctx, args, os.Stdout, os.Stderr); ok {
		stopProfile()
		stop()
		os.Exit(code)
	}
	ctx = engine.WithTaskOrigin(ctx, cliOrigin(os.Getpid(), os.Getuid()))
	err := cliapp.Run(ctx, newCLIApp(os.Stdout, os.Stderr), args)
	stopProfile()
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "tapefs: %v\n", err)
	}
	os.Exit(cliapp.ExitCode(err))
}

// helperArgs turns a mount helper call (the program called as
// mount.fuse.tapefs or mount.tapefs: `SOURCE MOUNTPOINT [-n] [-s] [-v]
// -o OPTIONS`) into `tapefs mount SOURCE MOUNTPOINT -o OPTIONS`. Other
// calls are returned as they are.
func helperArgs(args []string) []string {
	switch filepath.Base(args[0]) {
	case "mount.fuse.tapefs", "mount.tapefs":
	default:
		return args
	}
	out := []string{"tapefs", "mount"}
	for _, a := range args[1:] {
		switch a {
		case "-n", "-s", "-v": // no mtab, sloppy, verbose: nothing to do
			continue
		}
		out = append(out, a)
	}
	return out
}
