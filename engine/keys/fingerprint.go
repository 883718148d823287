package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// fingerprintLen is the length of a full fingerprint: 32 bytes as two hex
// digits each, separated by 31 colons.
const fingerprintLen = 32*3 - 1

// abbrevHead and abbrevTail are the number of bytes an abbreviated
// fingerprint keeps at its start and end, as the reference prints it
// ("14:f8:79:b9:f5:13:e5:dc:...:b6:20:e1:7f:f5:0f").
const (
	abbrevHead = 8
	abbrevTail = 6
)

// Fingerprint returns the fingerprint of key: the SHA-256 of the key as 32
// lower-case hex bytes separated by colons.
func Fingerprint(key []byte) string {
	sum := sha256.Sum256(key)
	return hexBytes(sum[:])
}

func hexBytes(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(hex.EncodeToString([]byte{c}))
	}
	return sb.String()
}

// ValidFingerprint reports whether s is a full fingerprint: 32 lower-case
// hex bytes separated by colons.
func ValidFingerprint(s string) bool {
	return len(s) == fingerprintLen && isHexBytes(s)
}

// isHexBytes reports whether s is one or more lower-case two-digit hex
// bytes separated by colons.
func isHexBytes(s string) bool {
	if len(s)%3 != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i%3 == 2 {
			if c != ':' {
				return false
			}
			continue
		}
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// Abbrev shortens a full fingerprint the way the reference's tables show
// it: the first 8 and the last 6 bytes around "...". Other strings are
// returned unchanged.
func Abbrev(fp string) string {
	if !ValidFingerprint(fp) {
		return fp
	}
	return fp[:abbrevHead*3] + "..." + fp[len(fp)-(abbrevTail*3-1)-1:]
}

// pattern is a parsed fingerprint given by a user: a full fingerprint, or
// a prefix and a suffix around "...".
type pattern struct {
	full           string
	prefix, suffix string
}

// parsePattern accepts a full fingerprint, or an abbreviated one as Abbrev
// prints it; spaces are ignored and upper-case hex digits are accepted, so
// the reference's " ... " form and copied text work. At least one byte
// must be given on each side of "...". Errors wrap ErrInvalid.
func parsePattern(s string) (pattern, error) {
	norm := strings.ToLower(strings.ReplaceAll(s, " ", ""))
	head, tail, abbreviated := strings.Cut(norm, "...")
	if !abbreviated {
		if ValidFingerprint(norm) {
			return pattern{full: norm}, nil
		}
		return pattern{}, errorf(ErrInvalid, "%q is not a key fingerprint: give 32 hex bytes separated by colons, or an abbreviation like `tapefs key list` prints (14:f8:79:b9:f5:13:e5:dc:...:b6:20:e1:7f:f5:0f)", s)
	}
	head = strings.TrimSuffix(head, ":")
	tail = strings.TrimPrefix(tail, ":")
	if !isHexBytes(head) || !isHexBytes(tail) || len(head)+1+len(tail) > fingerprintLen {
		return pattern{}, errorf(ErrInvalid, "%q is not an abbreviated key fingerprint: expected hex bytes separated by colons before and after \"...\", as `tapefs key list` prints it", s)
	}
	return pattern{prefix: head + ":", suffix: ":" + tail}, nil
}

func (p pattern) match(fp string) bool {
	if p.full != "" {
		return fp == p.full
	}
	return strings.HasPrefix(fp, p.prefix) && strings.HasSuffix(fp, p.suffix)
}

// resolve finds the one fingerprint in fps that s names. Errors wrap
// ErrInvalid (malformed s), ErrNotFound or ErrAmbiguous.
func resolve(s string, fps []string) (string, error) {
	p, err := parsePattern(s)
	if err != nil {
		return "", err
	}
	var found []string
	for _, fp := range fps {
		if p.match(fp) {
			found = append(found, fp)
		}
	}
	switch len(found) {
	case 0:
		return "", errorf(ErrNotFound, "no tape encryption key with fingerprint %s is known: load a tape written with that key and run `tapefs key restore`", s)
	case 1:
		return found[0], nil
	}
	return "", errorf(ErrAmbiguous, "fingerprint %s matches %d keys (%s): give more of it", s, len(found), strings.Join(found, ", "))
}
