package engine

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"

	"tapefs/engine/config"
	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/engine/keys"
	"tapefs/vtape"
)

// vtapeOpener opens the drives and changers of virtual libraries.
type vtapeOpener struct{}

func (vtapeOpener) OpenDrive(path string) (device.Drive, error)     { return vtape.OpenDrive(path) }
func (vtapeOpener) OpenChanger(path string) (device.Changer, error) { return vtape.OpenChanger(path) }
func (vtapeOpener) ScanDrives() ([]device.ScanEntry, error)         { return nil, nil }
func (vtapeOpener) ScanChangers() ([]device.ScanEntry, error)       { return nil, nil }

// loadedLibrary returns a virtual library of one drive and one cartridge,
// the cartridge in the drive.
func loadedLibrary(t *testing.T) string {
	t.Helper()
	lib := vtape.NewTestLibrary(t, vtape.LibraryOptions{Cartridges: 1})
	ch, err := vtape.OpenChanger(lib)
	if err != nil {
		t.Fatal(err)
	}
	err = ch.Move(context.Background(), device.Element{Kind: device.ElementSlot, ID: 1}, device.Element{Kind: device.ElementDrive, ID: 0})
	ch.Close()
	if err != nil {
		t.Fatal(err)
	}
	return lib
}

// labelledTape returns an engine with one standalone virtual drive "d0"
// holding a tape labelled with set (and a media label TEST01L8).
func labelledTape(t *testing.T, set *format.MediaSetLabel) *Engine {
	t.Helper()
	ctx := context.Background()
	lib := loadedLibrary(t)
	if set != nil {
		d, err := vtape.OpenDrive(vtape.DrivePath(lib, 0))
		if err != nil {
			t.Fatal(err)
		}
		ml := format.MediaLabel{LabelText: "TEST01L8", UUID: uuid.New(), Ctime: time.Now()}
		err = format.WriteLabels(ctx, d, ml, *set)
		d.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	root := t.TempDir()
	e, err := New(Options{ConfigDir: filepath.Join(root, "etc"), StateDir: filepath.Join(root, "state"), Opener: vtapeOpener{}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	err = e.Config().UpdateTape(func(c *config.TapeConfig) error {
		c.Drives = append(c.Drives, config.Drive{Name: "d0", Path: vtape.DrivePath(lib, 0)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestTapeKeyConfig(t *testing.T) {
	ctx := context.Background()
	key, kc, err := keys.NewKey([]byte("tape pw"), "tape pw 2020", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := kc.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := keys.NewKey([]byte("x"), "x", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	setUUID := uuid.New()
	now := time.Now()

	t.Run("encrypted", func(t *testing.T) {
		e := labelledTape(t, &format.MediaSetLabel{Pool: "daily", SetUUID: setUUID, Ctime: now, EncryptionKeyFingerprint: kc.Fingerprint, EncryptedKey: sealed})
		got, err := e.TapeKeyConfig(ctx, "d0")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := got.MarshalJSON()
		if !bytes.Equal(b, sealed) {
			t.Errorf("key config from tape:\n%s\nwant\n%s", b, sealed)
		}
		k, err := got.Decrypt([]byte("tape pw"))
		if err != nil || !bytes.Equal(k, key) {
			t.Errorf("Decrypt = %v", err)
		}
		// The drive is free again.
		if _, err := e.TapeKeyConfig(ctx, "d0"); err != nil {
			t.Errorf("second read: %v", err)
		}
	})

	tests := []struct {
		name string
		set  *format.MediaSetLabel
		kind Kind
		is   error
	}{
		{"blank tape", nil, KindNotFound, ErrNotFound},
		{"no media set", &format.MediaSetLabel{Ctime: now}, KindRefused, ErrNotEncrypted},
		{"unencrypted set", &format.MediaSetLabel{Pool: "daily", SetUUID: setUUID, Ctime: now}, KindRefused, ErrNotEncrypted},
		{"fingerprint only", &format.MediaSetLabel{Pool: "daily", SetUUID: setUUID, Ctime: now, EncryptionKeyFingerprint: kc.Fingerprint}, KindRefused, ErrNotEncrypted},
		{"damaged key", &format.MediaSetLabel{Pool: "daily", SetUUID: setUUID, Ctime: now, EncryptedKey: []byte(`{"kdf":"scrypt"}`)}, KindInvalid, keys.ErrInvalid},
		{"wrong fingerprint", &format.MediaSetLabel{Pool: "daily", SetUUID: setUUID, Ctime: now, EncryptionKeyFingerprint: keys.Fingerprint(other), EncryptedKey: sealed}, KindInvalid, keys.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := labelledTape(t, tt.set)
			_, err := e.TapeKeyConfig(ctx, "d0")
			if !errors.Is(err, tt.is) || KindOf(err) != tt.kind {
				t.Errorf("TapeKeyConfig = %v (kind %v), want %v (kind %v)", err, KindOf(err), tt.is, tt.kind)
			}
		})
	}
	t.Run("unknown drive", func(t *testing.T) {
		e := labelledTape(t, nil)
		if _, err := e.TapeKeyConfig(ctx, "nosuch"); KindOf(err) != KindNotFound {
			t.Errorf("TapeKeyConfig(nosuch) = %v", err)
		}
	})
}

func TestKeyRemove(t *testing.T) {
	e := labelledTape(t, nil)
	key, kc, err := keys.NewKey([]byte("pw"), "h", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Keys().Add(key, kc); err != nil {
		t.Fatal(err)
	}
	err = e.Config().UpdatePools(func(c *config.PoolConfig) error {
		c.Pools = append(c.Pools, config.Pool{Name: "daily", Encrypt: kc.Fingerprint})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.KeyRemove(keys.Abbrev(kc.Fingerprint), false); !errors.Is(err, ErrRefused) {
		t.Fatalf("KeyRemove of a key a pool uses = %v, want ErrRefused", err)
	}
	if _, _, err := e.Keys().Get(kc.Fingerprint); err != nil {
		t.Fatalf("refused remove lost the key: %v", err)
	}
	if err := e.KeyRemove(kc.Fingerprint, true); err != nil {
		t.Fatalf("KeyRemove --force: %v", err)
	}
	if err := e.KeyRemove(kc.Fingerprint, true); KindOf(err) != KindNotFound {
		t.Errorf("KeyRemove of a removed key = %v", err)
	}
}
