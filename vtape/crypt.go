package vtape

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"tapefs/engine/device"
)

// KeySize is the size of a data encryption key (AES-256).
const KeySize = 32

// keyIdentifier derives the identifier stored with every encrypted record:
// the first 8 bytes of SHA-256 of the key. It tells a wrong key from a
// damaged record without revealing the key.
func keyIdentifier(key []byte) [8]byte {
	sum := sha256.Sum256(key)
	var id [8]byte
	copy(id[:], sum[:8])
	return id
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("encryption key: %w", err)
	}
	return cipher.NewGCM(block)
}

func objectAD(object uint64) []byte {
	var ad [8]byte
	binary.BigEndian.PutUint64(ad[:], object)
	return ad[:]
}

// sealRecord encrypts a record written as object: a random nonce followed by
// the AES-256-GCM ciphertext, with the object number as additional data so
// a record copied to another position does not decrypt.
func sealRecord(key []byte, object uint64, plain []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plain)+aead.Overhead())
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("encryption nonce: %w", err)
	}
	return aead.Seal(out, out, plain, objectAD(object)), nil
}

// openRecord decrypts a stored record of object. A failure to authenticate
// wraps device.ErrEncrypted.
func openRecord(key []byte, object uint64, stored []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(stored) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("encrypted record too short: %w", device.ErrMediumError)
	}
	n := aead.NonceSize()
	plain, err := aead.Open(nil, stored[:n], stored[n:], objectAD(object))
	if err != nil {
		return nil, fmt.Errorf("decrypt object %d: %w", object, device.ErrEncrypted)
	}
	return plain, nil
}
