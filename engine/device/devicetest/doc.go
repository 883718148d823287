// Package devicetest is the conformance suite of the tape device contract in
// package device. Every implementation of device.Drive and device.Changer
// (the virtual tape library vtape, real hardware over SG_IO in sgio) runs it
// from its own tests, so the engine can rely on the same behaviour from both:
//
//	func TestConformance(t *testing.T) {
//		devicetest.RunDriveSuite(t, newTestDrive)
//		devicetest.RunChangerSuite(t, newTestChanger)
//	}
//
// It sits beside the contract: it imports only the standard library,
// testing and engine/device, and it checks nothing the doc comments of
// package device do not promise. Each behaviour is one subtest, so a failure
// names the promise that was broken. Subtests run one after another (real
// hardware has one drive) and each gets a fresh device from the factory.
//
// The suite also runs against real hardware: it assumes no vendor strings,
// skips the tests that need to fill a cartridge when the factory reports a
// capacity of 0, and skips a test whose operation the device reports as
// device.ErrUnsupported. It overwrites the cartridges it is given.
package devicetest
