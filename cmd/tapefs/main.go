// Command tapefs administers tape drives, changers, media pools and tapes,
// with the command tree of proxmox-tape, and (later) mounts them as a FUSE
// filesystem.
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
package main

import (
	"os"

	"tapefs/cmd/internal/cliapp"
)

func main() {
	cliapp.Main(newApp(os.Stdout, os.Stderr))
}
