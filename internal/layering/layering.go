// Package layering checks the import rules of tapefs's layers
// (DESIGN.md, "Dependencies point one way") against the package graph
// that `go list -json` reports:
//
//	cmd → fusefs → engine → {catalog, engine/format, engine/device}
//	vtape, sgio → engine/device
//
// Its test (layering_test.go) runs the check over the module, so the rules
// hold by machine: `go test ./internal/layering` fails with the offending
// import when a package breaks one. Only a package's own (non-test) code
// is checked: tests may build fixtures with any package.
package layering

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// Package is one package as `go list -json` describes it.
type Package struct {
	ImportPath string
	// Imports are the packages its code imports directly.
	Imports []string
	// Deps are all the packages it depends on, directly or not.
	Deps []string
}

// Rule restricts the imports of the module packages that match From.
// Patterns are import paths; one ending in "/..." also matches every
// package below it. Only packages of the module (Module prefix) are
// restricted: the standard library and other modules are always allowed.
type Rule struct {
	// From selects the packages the rule applies to; it must match at
	// least one package, so that a renamed package does not leave a rule
	// checking nothing.
	From string
	// Except leaves out packages From matches.
	Except []string
	// Only, when not empty, lists the module packages From may import
	// directly; any other is a violation.
	Only []string
	// Deny lists module packages From must not import directly.
	Deny []string
	// DenyDeps lists module packages From must not depend on at all.
	DenyDeps []string
	// Why is the rule in words, for the report.
	Why string
}

// Module is the import path prefix of tapefs's packages.
const Module = "tapefs"

// Leaf packages: shared code every layer may use (DESIGN.md, "Leaf
// packages"), apart from engine/format and engine/device, which are
// layers of their own.
var leaves = []string{
	"tapefs/internal/...",
	"tapefs/engine/calendar", "tapefs/engine/chunker", "tapefs/engine/config",
	"tapefs/engine/keys", "tapefs/engine/policy", "tapefs/engine/staging",
}

// upper are the layers above the engine's parts, which nothing below may
// depend on.
var upper = []string{"tapefs/cmd/...", "tapefs/fusefs/...", "tapefs/vtape/...", "tapefs/sgio/..."}

// Rules are DESIGN.md's import rules.
var Rules = []Rule{
	{From: "tapefs/fusefs/...", Only: append([]string{"tapefs/engine"}, leaves...),
		DenyDeps: []string{"tapefs/cmd/..."},
		Why:      "fusefs is an adapter over the engine: it imports the engine and leaf packages, never catalog, engine/format or engine/device"},
	{From: "tapefs/engine/...", DenyDeps: upper,
		Why: "the engine never depends on cmd, fusefs or a device implementation (vtape, sgio)"},
	{From: "tapefs/catalog/...", DenyDeps: append([]string{"tapefs/engine"}, upper...),
		Why: "catalog is below the engine"},
	{From: "tapefs/engine/format/...", DenyDeps: append([]string{"tapefs/engine", "tapefs/catalog/..."}, upper...),
		Why: "engine/format is below the engine"},
	{From: "tapefs/engine/device/...", Only: []string{"tapefs/engine/device/..."},
		Why: "engine/device is the leaf that device implementations build on"},
	{From: "tapefs/vtape/...", Only: []string{"tapefs/engine/device/...", "tapefs/internal/..."},
		Why: "vtape imports only engine/device and leaf packages"},
	{From: "tapefs/sgio/...", Only: []string{"tapefs/engine/device/...", "tapefs/internal/..."},
		Why: "sgio imports only engine/device and leaf packages"},
	{From: "tapefs/internal/...", Only: []string{"tapefs/internal/..."},
		Why: "internal/ packages are leaves"},
	{From: "tapefs/...", Except: []string{"tapefs/cmd/...", "tapefs/test/..."}, DenyDeps: []string{"tapefs/cmd/..."},
		Why: "nothing but cmd imports cmd"},
}

// Match reports whether import path p matches pattern pat.
func Match(pat, p string) bool {
	if base, ok := strings.CutSuffix(pat, "/..."); ok {
		return p == base || strings.HasPrefix(p, base+"/")
	}
	return p == pat
}

func matchAny(pats []string, p string) bool {
	return slices.ContainsFunc(pats, func(pat string) bool { return Match(pat, p) })
}

func inModule(p string) bool { return Match(Module+"/...", p) }

// Check returns one error per import that breaks a rule, and one per rule
// that matches no package.
func Check(pkgs []Package, rules []Rule) []error {
	var errs []error
	for _, r := range rules {
		matched := false
		for _, p := range pkgs {
			if !Match(r.From, p.ImportPath) || matchAny(r.Except, p.ImportPath) {
				continue
			}
			matched = true
			for _, imp := range p.Imports {
				if !inModule(imp) {
					continue
				}
				if len(r.Only) > 0 && !matchAny(r.Only, imp) || matchAny(r.Deny, imp) {
					errs = append(errs, fmt.Errorf("%s imports %s: %s", p.ImportPath, imp, r.Why))
				}
			}
			for _, dep := range p.Deps {
				if inModule(dep) && matchAny(r.DenyDeps, dep) {
					errs = append(errs, fmt.Errorf("%s depends on %s: %s", p.ImportPath, dep, r.Why))
				}
			}
		}
		if !matched {
			errs = append(errs, fmt.Errorf("rule for %s matches no package: %s", r.From, r.Why))
		}
	}
	return errs
}

// Decode reads the stream of JSON objects `go list -json` writes.
func Decode(r io.Reader) ([]Package, error) {
	var pkgs []Package
	d := json.NewDecoder(r)
	for {
		var p Package
		err := d.Decode(&p)
		if errors.Is(err, io.EOF) {
			return pkgs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
}
