package layering

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleLayering checks every package of the module against Rules.
func TestModuleLayering(t *testing.T) {
	// go test caches a passing result while the files the test opens or
	// stats stay the same, and go list's reads do not count: stat every
	// Go file of the module, so that a changed import runs the test again.
	err := filepath.WalkDir("../..", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != "../.." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".go") || d.Name() == "go.mod") {
			_, err = os.Stat(p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-json", "tapefs/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	pkgs, err := Decode(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages", len(pkgs))
	}
	for _, err := range Check(pkgs, Rules) {
		t.Error(err)
	}
}

// TestCheckFindsViolations runs the checker over made-up package graphs:
// each breaks one rule of DESIGN.md, and the checker must say so.
func TestCheckFindsViolations(t *testing.T) {
	// A graph that keeps every rule, with a package for every rule's From.
	clean := []Package{
		{ImportPath: "tapefs/cmd/tapefs", Imports: []string{"tapefs/fusefs", "tapefs/engine", "tapefs/vtape", "fmt"},
			Deps: []string{"tapefs/fusefs", "tapefs/engine", "tapefs/catalog", "tapefs/engine/format", "tapefs/engine/device", "tapefs/vtape", "fmt"}},
		{ImportPath: "tapefs/fusefs", Imports: []string{"tapefs/engine", "tapefs/engine/config", "tapefs/internal/procs", "github.com/hanwen/go-fuse/v2/fs"},
			Deps: []string{"tapefs/engine", "tapefs/catalog", "tapefs/engine/format", "tapefs/engine/device", "tapefs/engine/config", "tapefs/internal/procs"}},
		{ImportPath: "tapefs/engine", Imports: []string{"tapefs/catalog", "tapefs/engine/format", "tapefs/engine/device"},
			Deps: []string{"tapefs/catalog", "tapefs/engine/format", "tapefs/engine/device", "tapefs/internal/fileutil"}},
		{ImportPath: "tapefs/engine/config", Imports: []string{"tapefs/internal/fileutil"}, Deps: []string{"tapefs/internal/fileutil"}},
		{ImportPath: "tapefs/catalog", Imports: []string{"tapefs/internal/fileutil"}, Deps: []string{"tapefs/internal/fileutil"}},
		{ImportPath: "tapefs/engine/format", Imports: []string{"tapefs/engine/device"}, Deps: []string{"tapefs/engine/device"}},
		{ImportPath: "tapefs/engine/device"},
		{ImportPath: "tapefs/engine/device/devicetest", Imports: []string{"tapefs/engine/device"}, Deps: []string{"tapefs/engine/device"}},
		{ImportPath: "tapefs/vtape", Imports: []string{"tapefs/engine/device", "tapefs/internal/fileutil"}, Deps: []string{"tapefs/engine/device", "tapefs/internal/fileutil"}},
		{ImportPath: "tapefs/sgio", Imports: []string{"tapefs/engine/device", "golang.org/x/sys/unix"}, Deps: []string{"tapefs/engine/device"}},
		{ImportPath: "tapefs/internal/fileutil", Imports: []string{"os"}},
		{ImportPath: "tapefs/internal/procs"},
		{ImportPath: "tapefs/test", Imports: []string{"tapefs/cmd/internal/output"}, Deps: []string{"tapefs/cmd/internal/output"}},
	}
	if errs := Check(clean, Rules); len(errs) > 0 {
		t.Fatalf("clean graph: %v", errs)
	}
	// with returns clean with pkg's imports (and deps) extended.
	with := func(pkg string, imports, deps []string) []Package {
		out := make([]Package, len(clean))
		for i, p := range clean {
			out[i] = Package{ImportPath: p.ImportPath, Imports: append([]string(nil), p.Imports...), Deps: append([]string(nil), p.Deps...)}
			if p.ImportPath == pkg {
				out[i].Imports = append(out[i].Imports, imports...)
				out[i].Deps = append(out[i].Deps, append(deps, imports...)...)
			}
		}
		return out
	}
	without := func(pkgs []Package, drop string) []Package {
		var out []Package
		for _, p := range pkgs {
			if p.ImportPath != drop {
				out = append(out, p)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		pkgs []Package
		want string // in the error
	}{
		{name: "fusefs imports catalog", pkgs: with("tapefs/fusefs", []string{"tapefs/catalog"}, nil), want: "tapefs/fusefs imports tapefs/catalog"},
		{name: "fusefs imports engine/format", pkgs: with("tapefs/fusefs", []string{"tapefs/engine/format"}, nil), want: "tapefs/fusefs imports tapefs/engine/format"},
		{name: "fusefs imports engine/device", pkgs: with("tapefs/fusefs", []string{"tapefs/engine/device"}, nil), want: "tapefs/fusefs imports tapefs/engine/device"},
		{name: "fusefs imports vtape", pkgs: with("tapefs/fusefs", []string{"tapefs/vtape"}, nil), want: "tapefs/fusefs imports tapefs/vtape"},
		{name: "engine imports fusefs", pkgs: with("tapefs/engine", []string{"tapefs/fusefs"}, nil), want: "tapefs/engine depends on tapefs/fusefs"},
		{name: "engine depends on cmd", pkgs: with("tapefs/engine", nil, []string{"tapefs/cmd/internal/output"}), want: "tapefs/engine depends on tapefs/cmd/internal/output"},
		{name: "engine subpackage imports vtape", pkgs: with("tapefs/engine/config", []string{"tapefs/vtape"}, nil), want: "tapefs/engine/config depends on tapefs/vtape"},
		{name: "vtape imports engine", pkgs: with("tapefs/vtape", []string{"tapefs/engine"}, nil), want: "tapefs/vtape imports tapefs/engine"},
		{name: "vtape imports catalog", pkgs: with("tapefs/vtape", []string{"tapefs/catalog"}, nil), want: "tapefs/vtape imports tapefs/catalog"},
		{name: "sgio imports engine/format", pkgs: with("tapefs/sgio", []string{"tapefs/engine/format"}, nil), want: "tapefs/sgio imports tapefs/engine/format"},
		{name: "catalog imports engine", pkgs: with("tapefs/catalog", []string{"tapefs/engine"}, nil), want: "tapefs/catalog depends on tapefs/engine"},
		{name: "format imports catalog", pkgs: with("tapefs/engine/format", []string{"tapefs/catalog"}, nil), want: "tapefs/engine/format depends on tapefs/catalog"},
		{name: "device imports format", pkgs: with("tapefs/engine/device", []string{"tapefs/engine/format"}, nil), want: "tapefs/engine/device imports tapefs/engine/format"},
		{name: "internal imports engine", pkgs: with("tapefs/internal/procs", []string{"tapefs/engine"}, nil), want: "tapefs/internal/procs imports tapefs/engine"},
		{name: "sgio depends on cmd", pkgs: with("tapefs/sgio", nil, []string{"tapefs/cmd/internal/devices"}), want: "tapefs/sgio depends on tapefs/cmd/internal/devices"},
		{name: "a rule matches nothing", pkgs: without(clean, "tapefs/sgio"), want: "rule for tapefs/sgio/... matches no package"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errs := Check(tc.pkgs, Rules)
			if len(errs) == 0 {
				t.Fatalf("no violation found, want %q", tc.want)
			}
			var all []string
			for _, err := range errs {
				all = append(all, err.Error())
			}
			if !strings.Contains(strings.Join(all, "\n"), tc.want) {
				t.Fatalf("violations:\n%s\nwant one with %q", strings.Join(all, "\n"), tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pat, p string
		want   bool
	}{
		{"tapefs/engine", "tapefs/engine", true},
		{"tapefs/engine", "tapefs/engine/format", false},
		{"tapefs/engine/...", "tapefs/engine", true},
		{"tapefs/engine/...", "tapefs/engine/format", true},
		{"tapefs/engine/...", "tapefs/enginex", false},
		{"tapefs/cmd/...", "tapefs/cmd/internal/output", true},
	} {
		if got := Match(tc.pat, tc.p); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pat, tc.p, got, tc.want)
		}
	}
}

// TestDecode reads the concatenated objects go list writes.
func TestDecode(t *testing.T) {
	pkgs, err := Decode(strings.NewReader(`{"ImportPath": "a", "Imports": ["b"], "Deps": ["b", "c"]}
{"ImportPath": "b", "Deps": ["c"]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) != 2 || pkgs[0].ImportPath != "a" || len(pkgs[0].Deps) != 2 || pkgs[1].Deps[0] != "c" {
		t.Fatalf("got %+v", pkgs)
	}
	if _, err := Decode(strings.NewReader(`{"ImportPath": `)); err == nil {
		t.Fatal("a cut-short stream decoded")
	}
}
