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
	"os"

	"tapefs/cmd/internal/cliapp"
)

func main() {
	cliapp.Main(newApp(os.Stdout, os.Stderr))
}

// pmtDescription is the DESCRIPTION of pmt(1).
const pmtDescription = `pmt controls a tape drive directly, like mt: positioning, filemarks,
status, erase, load and eject, drive options, TapeAlert flags, volume
statistics and cartridge memory. It works on any drive tapefs knows
(virtual or SCSI), chosen by **--drive** *NAME* (TAPEFS\_DRIVE,
PROXMOX\_TAPE\_DRIVE, or the only configured drive) or by **--device** *PATH*.`
