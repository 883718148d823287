package engine

import (
	"os"
	"syscall"
)

// KillAtEnv names the environment variable that makes the process kill
// itself (SIGKILL, as kill -9 from outside) when it reaches the named
// point, for crash tests of the built binaries. Points:
//
//	commit-after-snapshot-archive   a backup's snapshot archive is on tape,
//	                                its catalog archive is not
//	commit-after-catalog-archive    the catalog archive is on tape too, the
//	                                snapshot is not recorded in the catalog
const KillAtEnv = "TAPEFS_TEST_KILL_AT"

// killAt kills the process at point when KillAtEnv names it.
func killAt(point string) {
	if os.Getenv(KillAtEnv) != point {
		return
	}
	syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {} // the signal is on its way
}
