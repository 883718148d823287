// Package test holds tapefs's end-to-end tests: they build the real
// binaries and run them the way a user does, against virtual libraries in
// temporary directories. Later, real FUSE mounts and crash tests live here
// too.
package test
