package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"slices"
	"time"

	"tapefs/cmd/internal/cliapp"
	"tapefs/cmd/internal/clidoc"
	"tapefs/internal/ltolabel"
)

// tapefsDescription is the DESCRIPTION of tapefs(1).
const tapefsDescription = `tapefs is a tape backup system: it configures LTO tape drives and
changers (tape libraries), media pools and encryption keys, labels and
inventories tapes, backs directories up into a pool's media set and
restores them, with the command tree of proxmox-tape. **tapefs mount**
runs the daemon that presents all of it as a filesystem (see
**tapefs.fs**(5)); while it runs, the other commands are forwarded to it.
A built-in virtual tape library (**tapefs vtape**) runs the whole system
without tape hardware.

Configuration lives in /etc/tapefs (tape.cfg, media-pool.cfg, keys) and
state in /var/lib/tapefs (catalog, spool, virtual libraries), unless
**--config-dir** and **--state-dir** say otherwise. The full guide is in
/usr/share/doc/tapefs.`

// completeValues gives shell completion the live values of a kind: names
// from the configuration files, label texts, media sets and snapshots from
// the catalog (through the daemon while one runs), and the choices of
// barcode-sheet's options.
func completeValues(kind string, flags map[string]string) []string {
	switch kind {
	case "layout":
		return ltolabel.LayoutNames()
	case "paper":
		return slices.Sorted(maps.Keys(ltolabel.Papers))
	case "type":
		return ltolabel.MediaTypes
	case "label-text":
		return catalogValues(flags, []string{"media", "list"}, "label-text")
	case "media-set":
		return catalogValues(flags, []string{"media", "content"}, "media-set-uuid")
	case "snapshot":
		return catalogValues(flags, []string{"media", "content"}, "snapshot")
	}
	return cliapp.ConfigValues(kind, flags)
}

// catalogValues runs `tapefs CMD --output-format json` as the user would
// (forwarded to a running daemon, else in this process) and returns the
// distinct values of field in its rows.
func catalogValues(flags map[string]string, cmd []string, field string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	args := append([]string{"tapefs"}, cmd...)
	for _, f := range []string{"config-dir", "state-dir"} {
		if v := flags[f]; v != "" {
			args = append(args, "--"+f, v)
		}
	}
	args = append(args, "--output-format", "json")
	var out bytes.Buffer
	if code, ok := forward(ctx, args, &out, io.Discard); ok {
		if code != 0 {
			return nil
		}
	} else if err := cliapp.Run(ctx, newApp(&out, io.Discard, nil), args); err != nil {
		return nil
	}
	var rows []map[string]any
	if err := json.Unmarshal(out.Bytes(), &rows); err != nil {
		return nil
	}
	var vals []string
	for _, r := range rows {
		if s, ok := r[field].(string); ok && s != "" && !slices.Contains(vals, s) {
			vals = append(vals, s)
		}
	}
	return vals
}

// fsPage is tapefs.fs(5), made from docs/fuse.md.
var fsPage = clidoc.ExtraPage{Source: "fuse.md", Name: "tapefs.fs", Section: 5, Summary: "the tree of a tapefs mount: pools, media sets, snapshots, drives, changers and control files"}
