// Package keys manages tape encryption keys, the way proxmox-tape's
// `key` commands do: a key is 32 random bytes that the drive uses for
// AES-256-GCM hardware encryption; its fingerprint (SHA-256, printed as 32
// colon-separated hex bytes) names it in pool configurations and media-set
// labels; and a password-protected copy of it (a KeyConfig: the key sealed
// with AES-256-GCM under a key derived from the password with scrypt) is
// written into every media-set label, so the key can be restored from any
// tape of the set with the password alone (`tapefs key restore`).
//
// The Store keeps the keys of one configuration directory in
// tape-encryption-keys.json (mode 0600).
//
// Layering: keys is a leaf package (stdlib and golang.org/x/crypto only).
// The engine uses it to set drive keys for encrypted pools and to read the
// KeyConfig from media-set labels; the CLI uses it for `tapefs key`.
package keys
