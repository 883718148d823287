module tapefs/engine/chunker/cdcbench

go 1.26.8

replace tapefs => ../../..

require (
	github.com/PlakarKorp/go-cdc-chunkers v1.1.0
	github.com/jotfs/fastcdc-go v0.2.0
	github.com/restic/chunker v0.4.0
	tapefs v0.0.0-00010101000000-000000000000
)

require (
	github.com/klauspost/cpuid/v2 v2.0.12 // indirect
	github.com/zeebo/blake3 v0.2.4 // indirect
)
