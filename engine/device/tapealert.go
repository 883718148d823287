package device

import (
	"math/bits"
	"strconv"
	"strings"
)

// TapeAlertFlags is the set of TapeAlert flags (SSC log page 2Eh): bit n-1
// is flag n, for flags 1..64.
type TapeAlertFlags uint64

// TapeAlert flags used by tapefs (numbers from the TapeAlert specification).
const (
	AlertReadWarning          = 1
	AlertWriteWarning         = 2
	AlertHardError            = 3
	AlertMedia                = 4
	AlertReadFailure          = 5
	AlertWriteFailure         = 6
	AlertMediaLife            = 7
	AlertNotDataGrade         = 8
	AlertWriteProtect         = 9
	AlertNoRemoval            = 10
	AlertCleaningMedia        = 11
	AlertUnsupportedFormat    = 12
	AlertUnrecoverableSnap    = 13
	AlertCleanNow             = 20
	AlertCleanPeriodic        = 21
	AlertExpiredCleaning      = 22
	AlertInvalidCleaning      = 23
	AlertHardware             = 30
	AlertInterface            = 31
	AlertEjectMedia           = 32
	AlertDriveTemperature     = 36
	AlertTapeDirectoryInvalid = 51
	AlertWORMIntegrity        = 56
)

var tapeAlertNames = map[int]string{
	1: "READ_WARNING", 2: "WRITE_WARNING", 3: "HARD_ERROR", 4: "MEDIA",
	5: "READ_FAILURE", 6: "WRITE_FAILURE", 7: "MEDIA_LIFE",
	8: "NOT_DATA_GRADE", 9: "WRITE_PROTECT", 10: "NO_REMOVAL",
	11: "CLEANING_MEDIA", 12: "UNSUPPORTED_FORMAT",
	13: "RECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE",
	14: "UNRECOVERABLE_MECHANICAL_CARTRIDGE_FAILURE",
	15: "MEMORY_CHIP_IN_CARTRIDGE_FAILURE", 16: "FORCED_EJECT",
	17: "READ_ONLY_FORMAT", 18: "TAPE_DIRECTORY_CORRUPTED_ON_LOAD",
	19: "NEARING_MEDIA_LIFE", 20: "CLEAN_NOW", 21: "CLEAN_PERIODIC",
	22: "EXPIRED_CLEANING_MEDIA", 23: "INVALID_CLEANING_TAPE",
	24: "RETENSION_REQUESTED", 25: "DUAL_PORT_INTERFACE_ERROR",
	26: "COOLING_FAN_FAILURE", 27: "POWER_SUPPLY_FAILURE",
	28: "POWER_CONSUMPTION", 29: "DRIVE_MAINTENANCE", 30: "HARDWARE_A",
	31: "HARDWARE_B", 32: "INTERFACE", 33: "EJECT_MEDIA",
	34: "DOWNLOAD_FAULT", 35: "DRIVE_HUMIDITY", 36: "DRIVE_TEMPERATURE",
	37: "DRIVE_VOLTAGE", 38: "PREDICTIVE_FAILURE", 39: "DIAGNOSTICS_REQUIRED",
	49: "DIMINISHED_NATIVE_CAPACITY", 50: "LOST_STATISTICS",
	51: "TAPE_DIRECTORY_INVALID_AT_UNLOAD",
	52: "TAPE_SYSTEM_AREA_WRITE_FAILURE",
	53: "TAPE_SYSTEM_AREA_READ_FAILURE", 54: "NO_START_OF_DATA",
	55: "LOADING_FAILURE", 56: "UNRECOVERABLE_UNLOAD_FAILURE",
	57: "AUTOMATION_INTERFACE_FAILURE", 58: "FIRMWARE_FAILURE",
	59: "WORM_MEDIUM_INTEGRITY_CHECK_FAILED",
	60: "WORM_MEDIUM_OVERWRITE_ATTEMPTED",
}

// Has reports whether flag n (1..64) is set.
func (f TapeAlertFlags) Has(n int) bool {
	return n >= 1 && n <= 64 && f&(1<<(n-1)) != 0
}

// With returns f with flag n set.
func (f TapeAlertFlags) With(n int) TapeAlertFlags {
	if n < 1 || n > 64 {
		return f
	}
	return f | 1<<(n-1)
}

// Without returns f with flag n cleared.
func (f TapeAlertFlags) Without(n int) TapeAlertFlags {
	if n < 1 || n > 64 {
		return f
	}
	return f &^ (1 << (n - 1))
}

// Flags returns the set flag numbers in increasing order.
func (f TapeAlertFlags) Flags() []int {
	var out []int
	for v := uint64(f); v != 0; v &= v - 1 {
		out = append(out, bits.TrailingZeros64(v)+1)
	}
	return out
}

// TapeAlertName returns the name of flag n, or "FLAG_n" for unnamed flags.
func TapeAlertName(n int) string {
	if s, ok := tapeAlertNames[n]; ok {
		return s
	}
	return "FLAG_" + strconv.Itoa(n)
}

// String lists the set flags by name, separated by " | ", or "" when none.
func (f TapeAlertFlags) String() string {
	var names []string
	for _, n := range f.Flags() {
		names = append(names, TapeAlertName(n))
	}
	return strings.Join(names, " | ")
}

// CleaningRequired reports whether the flags ask for cleaning.
func (f TapeAlertFlags) CleaningRequired() bool {
	return f.Has(AlertCleanNow) || f.Has(AlertCleanPeriodic)
}
