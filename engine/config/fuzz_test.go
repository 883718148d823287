package config

import (
	"reflect"
	"testing"
)

// FuzzParseTape checks that the tape.cfg parser never panics and that what
// it accepts survives a write and a second parse unchanged.
func FuzzParseTape(f *testing.F) {
	for _, s := range []string{
		exampleTape, "", "lto: d1\n", "changer: c\n\texport-slots 1, +2,003\n",
		"lto: a\n\tchanger-drivenum -0\n\tpath /x y \r\n", "\t# c\nlto: x:y\n\tpath #p\n",
		"lto: d1\nchanger: c1\n\tpath /c\n", "lto d1\n", "lto: d1\n\n\tpath /x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := parseTape("tape.cfg", []byte(data))
		if err != nil {
			return
		}
		_ = c.Validate()
		out := formatTape(c)
		c2, err := parseTape("tape.cfg", out)
		if err != nil {
			t.Fatalf("written form of %q does not parse: %v\n%s", data, err, out)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip of %q:\n%+v\n%+v", data, c, c2)
		}
	})
}

// FuzzParsePools is FuzzParseTape for media-pool.cfg.
func FuzzParsePools(f *testing.F) {
	for _, s := range []string{
		examplePools, "", "pool: p\n\tcomment  a  # b \n", "pool: p\n\tallocation mon..fri 18:00\n\tretention 7days\n",
		"pool: p\n\tcolor red\n", "pool: p\n\tdrive\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := parsePools("media-pool.cfg", []byte(data))
		if err != nil {
			return
		}
		_ = c.Validate()
		out := formatPools(c)
		c2, err := parsePools("media-pool.cfg", out)
		if err != nil {
			t.Fatalf("written form of %q does not parse: %v\n%s", data, err, out)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip of %q:\n%+v\n%+v", data, c, c2)
		}
	})
}
