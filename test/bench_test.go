package test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"tapefs/engine"
	"tapefs/engine/config"
	"tapefs/vtape"
)

// BenchmarkBackup measures one engine backup of 128 MiB (large, 1 MiB and
// 16 KiB files) into a virtual library, and a deduplicated re-backup.
func BenchmarkBackup(b *testing.B) {
	root := b.TempDir()
	src := filepath.Join(root, "src", "data")
	for _, d := range []string{"large", "medium", "small"} {
		if err := os.MkdirAll(filepath.Join(src, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	t := &testing.T{}
	makeRandomFile(t, filepath.Join(src, "large", "f"), 48<<20, 1)
	for i := 0; i < 40; i++ {
		makeRandomFile(t, filepath.Join(src, "medium", strconv.Itoa(i)), 1<<20, uint64(10+i))
	}
	for i := 0; i < 2560; i++ {
		makeRandomFile(t, filepath.Join(src, "small", strconv.Itoa(i)), 16<<10, uint64(100+i))
	}
	const size = 48<<20 + 40<<20 + 2560*16<<10
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(root, "run"+strconv.Itoa(i))
		lib := filepath.Join(dir, "vlib")
		if err := vtape.Create(lib, vtape.LibraryOptions{Drives: 1, Slots: 4, Cartridges: 2, BarcodePrefix: "TEST"}); err != nil {
			b.Fatal(err)
		}
		eng, err := engine.New(engine.Options{ConfigDir: filepath.Join(dir, "etc"), StateDir: filepath.Join(dir, "state"), Opener: vtapeOpener{lib}})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		eng.ChangerCreate("sl3", lib, nil)
		eng.DriveCreate(config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0), Changer: "sl3"})
		eng.PoolCreate(config.Pool{Name: "pa", Drive: "d0"})
		if _, err := eng.BarcodeLabel(ctx, "d0", "pa"); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := eng.Backup(ctx, engine.BackupOptions{Source: src, Pool: "pa"}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		b.SetBytes(size)
		eng.Close()
		os.RemoveAll(dir)
	}
}
