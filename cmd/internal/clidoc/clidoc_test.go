package clidoc

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func testApp() *cli.App {
	leaf := func(name, args string, flags ...cli.Flag) *cli.Command {
		return &cli.Command{Name: name, Usage: name + " things", ArgsUsage: args, Flags: flags}
	}
	return &cli.App{
		Name:  "prog",
		Usage: "a program",
		Flags: []cli.Flag{&cli.StringFlag{Name: "config-dir", EnvVars: []string{"PROG_CONFIG"}, Usage: "configuration `DIR`"}},
		Commands: []*cli.Command{
			{Name: "pool", Usage: "pools", Subcommands: []*cli.Command{
				leaf("config", "NAME", &cli.StringFlag{Name: "config-dir"}),
				leaf("update", "NAME", &cli.StringFlag{Name: "encrypt"}, &cli.StringFlag{Name: "drive"}, &cli.BoolFlag{Name: "force"}),
			}},
			leaf("restore", "MEDIA-SET-UUID TARGET [SNAPSHOT ...]", &cli.StringFlag{Name: "output-format"}),
			leaf("set-status", "LABEL full|damaged"),
			{Name: "secret", Hidden: true},
		},
	}
}

func fakeValues(kind string, flags map[string]string) []string {
	switch kind {
	case "pool":
		if flags["config-dir"] == "/other" {
			return []string{"weekly"}
		}
		return []string{"daily", "dev"}
	case "drive":
		return []string{"d0"}
	case "key":
		return []string{"14:f8:79", "22:aa:01"}
	case "media-set":
		return []string{"0cbb220a"}
	case "snapshot":
		return []string{"www/2026-12-06T07:27:14Z", "db/2026-12-06T07:27:14Z"}
	case "label-text":
		return []string{"TEST01L8"}
	}
	return nil
}

func TestComplete(t *testing.T) {
	tests := []struct {
		words []string
		want  []string
		files bool
	}{
		{words: []string{""}, want: []string{"pool", "restore", "set-status"}},
		{words: []string{"po"}, want: []string{"pool"}},
		{words: []string{"pool", ""}, want: []string{"config", "update"}},
		{words: []string{"pool", "config", ""}, want: []string{"daily", "dev"}},
		{words: []string{"pool", "config", "d"}, want: []string{"daily", "dev"}},
		{words: []string{"pool", "config", "da"}, want: []string{"daily"}},
		{words: []string{"--config-dir", "/other", "pool", "config", ""}, want: []string{"weekly"}},
		{words: []string{"pool", "config", "--config-dir=/other", ""}, want: []string{"weekly"}},
		{words: []string{"pool", "config", "daily", ""}, want: nil}, // one argument only
		{words: []string{"pool", "update", "--encrypt", "14"}, want: []string{"14:f8:79"}},
		{words: []string{"pool", "update", "--encrypt=2"}, want: []string{"--encrypt=22:aa:01"}},
		{words: []string{"pool", "update", "--drive", ""}, want: []string{"d0"}},
		{words: []string{"pool", "update", "--force", ""}, want: []string{"daily", "dev"}}, // a bool flag takes no value
		{words: []string{"pool", "update", "--"}, want: []string{"--encrypt", "--drive", "--force", "--help"}},
		{words: []string{"restore", ""}, want: []string{"0cbb220a"}},
		{words: []string{"restore", "0cbb220a", ""}, files: true},
		{words: []string{"restore", "0cbb220a", "/tmp", "w"}, want: []string{"www/2026-12-06T07:27:14Z"}},
		{words: []string{"restore", "0cbb220a", "/tmp", "www/x", ""}, want: []string{"www/2026-12-06T07:27:14Z", "db/2026-12-06T07:27:14Z"}},
		{words: []string{"restore", "--output-format", "j"}, want: []string{"json", "json-pretty"}},
		{words: []string{"set-status", ""}, want: []string{"TEST01L8"}},
		{words: []string{"set-status", "TEST01L8", ""}, want: []string{"full", "damaged"}},
		{words: []string{"se"}, want: []string{"set-status"}}, // hidden commands are not offered
		{words: []string{"--"}, want: []string{"--config-dir", "--help", "--version"}},
	}
	for _, tt := range tests {
		got := Complete(testApp(), tt.words, fakeValues)
		if got.Files != tt.files || !slices.Equal(got.Values, tt.want) {
			t.Errorf("Complete(%q) = %v files=%v, want %v files=%v", tt.words, got.Values, got.Files, tt.want, tt.files)
		}
	}
}

func TestScripts(t *testing.T) {
	for _, sh := range Shells {
		s, err := Script(sh, "tapefs")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, "__complete") || strings.Contains(s, "@") && strings.Contains(s, "@PROG@") {
			t.Errorf("%s script does not call __complete or has a placeholder left:\n%s", sh, s)
		}
	}
	if _, err := Script("tcsh", "tapefs"); err == nil {
		t.Error("tcsh: no error")
	}
}

// TestManPagesCoverTree checks that every visible command of the tree is in
// the pages, and hidden ones are not.
func TestManPagesCoverTree(t *testing.T) {
	app := testApp()
	pages := ManPages(app, ManInfo{Section: 1, Date: "2026-12-06", Version: "prog 1", SplitCommands: true})
	var all strings.Builder
	var names []string
	for _, p := range pages {
		names = append(names, p.File())
		all.Write(p.Roff)
	}
	if want := []string{"prog.1", "prog-pool.1", "prog-restore.1", "prog-set-status.1"}; !slices.Equal(names, want) {
		t.Errorf("pages %v, want %v", names, want)
	}
	for _, s := range MissingFromPages(app, pages) {
		t.Errorf("not in the man pages: %s", s)
	}
	if strings.Contains(all.String(), "secret") {
		t.Error("a hidden command is in the man pages")
	}
	if !strings.Contains(all.String(), "PROG_CONFIG") {
		t.Error("the environment variable of --config-dir is not in the pages")
	}
}
