// Command pmt controls a tape drive directly, like mt: positioning, filemarks,
// status, erase, load/eject, options, TapeAlert flags, volume statistics and
// cartridge memory. It works on any drive tapefs knows (virtual or SCSI),
// chosen by --drive NAME (TAPEFS_DRIVE, PROXMOX_TAPE_DRIVE, or the only
// configured drive) or by --device PATH.
//
// Exit codes are those of tapefs: 0 success, 1 failure, 2 bad usage,
// 3 not found, 4 busy, 5 no medium, 6 refused, 7 no space.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"tapefs/cmd/internal/cliapp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := cliapp.Run(ctx, newApp(os.Stdout, os.Stderr), os.Args)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "pmt: %v\n", err)
	}
	os.Exit(cliapp.ExitCode(err))
}
