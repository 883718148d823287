// Command pmtx controls a tape changer directly, like mtx: element status with
// barcodes, moving cartridges between slots and drives, inventory and
// inquiry. It works on any changer tapefs knows (virtual or SCSI), chosen by
// --changer NAME (or the changer of the default drive) or by --device PATH.
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

// pmtxDescription is the DESCRIPTION of pmtx(1).
const pmtxDescription = `pmtx controls a tape changer directly, like mtx: element status with
barcodes, moving cartridges between slots and drives, inventory and
inquiry. It works on any changer tapefs knows (virtual or SCSI), chosen by
**--changer** *NAME* (or the changer of the default drive) or by
**--device** *PATH*.`
