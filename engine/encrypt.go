package engine

import (
	"context"
	"errors"
	"fmt"

	"tapefs/engine/device"
	"tapefs/engine/format"
	"tapefs/engine/keys"
)

// setKey is the drive encryption of a media set: the key and its
// password-protected copy for the media-set label. The zero value means
// not encrypted.
type setKey struct {
	fingerprint string
	key         []byte
	config      []byte // keys.KeyConfig JSON
}

// poolKey loads the key a pool's `encrypt` names.
func (e *Engine) poolKey(fp string) (setKey, error) {
	if fp == "" {
		return setKey{}, nil
	}
	key, kc, err := e.Keys().Get(fp)
	if err != nil {
		return setKey{}, fmt.Errorf("encryption key of the pool: %w", err)
	}
	b, err := kc.MarshalJSON()
	if err != nil {
		return setKey{}, err
	}
	return setKey{fingerprint: kc.Fingerprint, key: key, config: b}, nil
}

// apply sets (or, for an unencrypted set, clears) the drive key. A drive
// without encryption may refuse the clear; that is fine.
func (k setKey) apply(ctx context.Context, dev device.Drive) error {
	if k.key == nil {
		if err := dev.SetEncryptionKey(ctx, nil); err != nil && !errors.Is(err, device.ErrUnsupported) {
			return err
		}
		return nil
	}
	if err := dev.SetEncryptionKey(ctx, k.key); err != nil {
		return fmt.Errorf("set drive encryption key %s: %w", keys.Abbrev(k.fingerprint), err)
	}
	return nil
}

// readKey prepares the drive to read a tape whose media-set label is set:
// the set's key from the key store, or no key for an unencrypted set.
func (e *Engine) readKey(ctx context.Context, dev device.Drive, set *format.MediaSetLabel) error {
	var k setKey
	if set != nil && set.EncryptionKeyFingerprint != "" {
		key, _, err := e.Keys().Get(set.EncryptionKeyFingerprint)
		if err != nil {
			return keyErr(set.SetUUID, err)
		}
		k = setKey{fingerprint: set.EncryptionKeyFingerprint, key: key}
	}
	return k.apply(ctx, dev)
}
