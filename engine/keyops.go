package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/engine/keys"
)

// ErrNotEncrypted: the media set of the tape in the drive is not encrypted,
// so its label carries no key to restore.
var ErrNotEncrypted = errors.New("media set is not encrypted")

// Keys returns the tape encryption key store of the configuration
// directory.
func (e *Engine) Keys() keys.Store { return keys.Store{Dir: e.cfg.Path} }

// TapeKeyConfig reads the labels of the tape in a drive and returns the
// password-protected key its media-set label carries, for `tapefs key
// restore`. It reserves the drive for the read. Errors: the drive's (not
// found, busy, no medium), a tape that is blank or not labelled by tapefs
// (ErrNotFound), a tape in no media set or an unencrypted set (wrapping
// ErrNotEncrypted and ErrRefused), and a damaged key config (wrapping
// keys.ErrInvalid).
func (e *Engine) TapeKeyConfig(ctx context.Context, driveName string) (keys.KeyConfig, error) {
	j, release, err := e.useDrive(ctx, driveName, "key restore")
	if err != nil {
		return keys.KeyConfig{}, err
	}
	defer release()
	if _, err := j.ready(ctx); err != nil {
		return keys.KeyConfig{}, err
	}
	var ml *format.MediaLabel
	var set *format.MediaSetLabel
	err = j.do(ctx, func(ctx context.Context, dev device.Drive) error {
		var err error
		ml, set, err = format.ReadLabels(ctx, dev)
		switch {
		case errors.Is(err, format.ErrBlankTape):
			return notFoundf("tape in drive %s is empty (not labelled): load a tape of the encrypted media set", j.cfg.Name)
		case errors.Is(err, format.ErrNotTapefs):
			return notFoundf("tape in drive %s has no tapefs label: load a tape of the encrypted media set", j.cfg.Name)
		case err != nil:
			return err
		}
		return dev.Rewind(ctx)
	})
	if err != nil {
		return keys.KeyConfig{}, err
	}
	if set == nil || len(set.EncryptedKey) == 0 {
		what := "its media set is not encrypted"
		if set == nil || set.SetUUID == uuid.Nil {
			what = "it belongs to no media set"
		} else if set.EncryptionKeyFingerprint != "" {
			what = fmt.Sprintf("its media set is encrypted with key %s, but the label carries no password-protected copy of the key", set.EncryptionKeyFingerprint)
		}
		return keys.KeyConfig{}, &classed{class: ErrRefused, err: fmt.Errorf("tape %s in drive %s has no key to restore: %s: %w", ml.LabelText, j.cfg.Name, what, ErrNotEncrypted)}
	}
	kc, err := keys.ParseKeyConfig(set.EncryptedKey)
	if err != nil {
		return keys.KeyConfig{}, fmt.Errorf("tape %s: media-set label: %w", ml.LabelText, err)
	}
	if set.EncryptionKeyFingerprint != "" && set.EncryptionKeyFingerprint != kc.Fingerprint {
		return keys.KeyConfig{}, fmt.Errorf("tape %s: the media-set label names key %s but carries key %s: %w", ml.LabelText, set.EncryptionKeyFingerprint, kc.Fingerprint, keys.ErrInvalid)
	}
	return kc, nil
}

// KeyRemove removes a tape encryption key from the store. A key that a
// pool's `encrypt` names is refused (ErrRefused) unless force is set:
// without it, backups of that pool cannot run, and tapes written with it
// can only be read after `tapefs key restore`. fp may be abbreviated as
// keys.Store accepts.
func (e *Engine) KeyRemove(fp string, force bool) error {
	store := e.Keys()
	full, err := store.Resolve(fp)
	if err != nil {
		return err
	}
	if !force {
		pc, err := e.cfg.LoadPools()
		if err != nil {
			return err
		}
		for _, p := range pc.Pools {
			if strings.EqualFold(p.Encrypt, full) {
				return refusedf("tape encryption key %s is used by media pool %s: change the pool's encrypt setting first, or remove the key anyway with --force", keys.Abbrev(full), p.Name)
			}
		}
	}
	return store.Remove(full)
}

// resolvePoolKey turns the encrypt setting of a pool, full or abbreviated,
// into the full fingerprint of a key in the store. "" stays "". An unknown
// key is refused (ErrNotFound): backups of the pool could not run.
func (e *Engine) resolvePoolKey(fp string) (string, error) {
	if fp == "" {
		return "", nil
	}
	full, err := e.Keys().Resolve(fp)
	if err != nil {
		return "", fmt.Errorf("pool encrypt: %w (create a key with `tapefs key create --hint TEXT`)", err)
	}
	return full, nil
}
