package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"
)

// repoRoot is the checkout the tests run in (they run in test/).
const repoRoot = ".."

// makeIn runs make in the repository with args and fails the test if it
// fails.
func makeIn(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("make", append([]string{"-C", repoRoot, "--no-print-directory"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// tree lists the files and symlinks under root (symlinks as "path ->
// target"), relative to root.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if fi.Mode()&os.ModeSymlink != 0 {
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			rel += " -> " + target
		}
		out = append(out, "/"+rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// topCommands returns the visible top-level commands of a tapefs binary,
// as its completion lists them.
func topCommands(t *testing.T, tapefs string) []string {
	t.Helper()
	out, err := exec.Command(tapefs, "__complete", "--", "").Output()
	if err != nil {
		t.Fatal(err)
	}
	// help is urfave/cli's, without a page of its own
	return slices.DeleteFunc(strings.Fields(string(out)), func(c string) bool { return c == "help" })
}

// expectedInstall is every file `make install` puts under prefix (with the
// mount helper in helperDir), for the commands tapefs has.
func expectedInstall(t *testing.T, prefix, helperDir, zshDir, unitDir string, commands []string) []string {
	t.Helper()
	want := []string{
		helperDir + "/mount.fuse.tapefs -> " + prefix + "/bin/tapefs",
		unitDir + "/tapefs.service",
		unitDir + "/tapefs@.service",
		prefix + "/share/man/man1/tapefs.1",
		prefix + "/share/man/man5/tapefs.fs.5",
		prefix + "/share/doc/tapefs/README.md",
		prefix + "/share/doc/tapefs/examples/mnt-tape.mount",
	}
	for _, p := range []string{"tapefs", "pmt", "pmtx"} {
		want = append(want,
			prefix+"/bin/"+p,
			prefix+"/share/bash-completion/completions/"+p,
			zshDir+"/_"+p,
			prefix+"/share/fish/vendor_completions.d/"+p+".fish",
		)
		if p != "tapefs" {
			want = append(want, prefix+"/share/man/man1/"+p+".1")
		}
	}
	for _, c := range commands {
		want = append(want, prefix+"/share/man/man1/tapefs-"+c+".1")
	}
	docs, err := filepath.Glob(filepath.Join(repoRoot, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range docs {
		want = append(want, prefix+"/share/doc/tapefs/"+filepath.Base(d))
	}
	sort.Strings(want)
	return want
}

// TestInstall installs into a staging root and checks the tree, the man
// pages, the units, and that the completion scripts load in bash, zsh and
// fish and complete live values (a pool from the configuration; tapes from the
// catalog through a running daemon); then uninstalls.
func TestInstall(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and installs the whole tree")
	}
	for _, tool := range [][2]string{{"make", "make"}, {"man", "man-db"}, {"zsh", "zsh"}, {"fish", "fish"}} {
		needTool(t, tool[0], tool[1])
	}
	dest := t.TempDir()
	makeIn(t, "install", "DESTDIR="+dest, "PREFIX=/usr/local")
	bin := filepath.Join(dest, "usr/local/bin")

	got := tree(t, dest)
	want := expectedInstall(t, "/usr/local", "/sbin", "/usr/local/share/zsh/site-functions", "/usr/local/lib/systemd/system", topCommands(t, filepath.Join(bin, "tapefs")))
	if !slices.Equal(got, want) {
		t.Errorf("installed files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	t.Run("version", func(t *testing.T) {
		head, err := exec.Command("git", "-C", repoRoot, "rev-parse", "--short=12", "HEAD").Output()
		if err != nil {
			t.Skipf("no git checkout: %v", err)
		}
		for _, p := range []string{"tapefs", "pmt", "pmtx"} {
			out, err := exec.Command(filepath.Join(bin, p), "--version").Output()
			re := regexp.MustCompile(`^` + p + ` version \S+ \(commit ` + strings.TrimSpace(string(head)) + `, built \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ, go1\.\S+ linux/\w+\)\n$`)
			if err != nil || !re.Match(out) {
				t.Errorf("%s --version: %q, %v", p, out, err)
			}
		}
	})

	t.Run("units", func(t *testing.T) {
		for _, u := range []string{"tapefs.service", "tapefs@.service"} {
			b, err := os.ReadFile(filepath.Join(dest, "usr/local/lib/systemd/system", u))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), "\nExecStart=/usr/local/bin/tapefs mount ") || strings.Contains(string(b), "@BINDIR@") || strings.Contains(string(b), "@DOCDIR@") {
				t.Errorf("%s does not run the installed binary:\n%s", u, b)
			}
			if !strings.Contains(string(b), "file:///usr/local/share/doc/tapefs/fuse.md") {
				t.Errorf("%s does not point at the installed fuse.md", u)
			}
		}
	})

	t.Run("man", func(t *testing.T) {
		pages, _ := filepath.Glob(filepath.Join(dest, "usr/local/share/man/man*/*"))
		for _, p := range pages {
			cmd := exec.Command("man", "--warnings", "-l", p)
			cmd.Env = append(os.Environ(), "MANWIDTH=100", "LC_ALL=C.UTF-8", "MANPAGER=cat", "PAGER=cat")
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Errorf("man -l %s: %v\n%s", p, err, stderr.String())
				continue
			}
			name := strings.TrimSuffix(filepath.Base(p), filepath.Ext(p))
			if !regexp.MustCompile(`NAME\n\s+` + regexp.QuoteMeta(name) + `\s+-\s`).Match(out) {
				t.Errorf("%s renders without its NAME section:\n%.400s", p, out)
			}
			for _, l := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
				// tapefs.fs(5) has tables wider than a terminal
				if l != "" && !strings.Contains(l, "table wider than line width") && !strings.HasPrefix(l, "warning: file '<standard input>', around line") {
					t.Errorf("man -l %s: %s", p, l)
				}
			}
		}
	})

	t.Run("completion", func(t *testing.T) {
		needFUSE(t)
		s := newSandbox(t)
		setupLibrary(s)
		s.ok("barcode-label", "--pool", "daily")
		env := append(append([]string{}, s.env...), "PATH="+bin+":"+os.Getenv("PATH"))
		bashComplete := func(line string) []string {
			t.Helper()
			script := `source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; _tapefs_complete; printf '%s\n' "${COMPREPLY[@]}"`
			cmd := exec.Command("bash", "--norc", "-c", script, "bash", filepath.Join(dest, "usr/local/share/bash-completion/completions/tapefs"), line)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash completion of %q: %v\n%s", line, err, out)
			}
			return strings.Fields(string(out))
		}
		zshComplete := func(words ...string) []string {
			t.Helper()
			// The completion system autoloads _tapefs from $fpath, as
			// zsh finds the installed file; compadd and _files stand in
			// for its output.
			script := `fpath=("$1" $fpath); shift
autoload -U compinit && compinit -u -d "$HOME/.zcompdump"
[[ $_comps[tapefs] == _tapefs ]] || { print "compinit did not register _tapefs"; exit 1; }
compadd() { shift 2; print -l -- "$@"; }
_files() { print -- "<files>"; }
words=("$@"); CURRENT=$#
_tapefs`
			cmd := exec.Command("zsh", append([]string{"-f", "-c", script, "zsh", filepath.Join(dest, "usr/local/share/zsh/site-functions")}, words...)...)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("zsh completion of %q: %v\n%s", words, err, out)
			}
			return strings.Fields(string(out))
		}
		fishComplete := func(line string) []string {
			t.Helper()
			cmd := exec.Command("fish", "--no-config", "-c", `source $argv[1]; complete -C $argv[2]`,
				filepath.Join(dest, "usr/local/share/fish/vendor_completions.d/tapefs.fish"), line)
			cmd.Env = env
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("fish completion of %q: %v\n%s", line, err, out)
			}
			return strings.Fields(string(out))
		}
		check := func(shell string, got, want []string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Errorf("%s: completed %q, want %q", shell, got, want)
			}
		}
		check("bash pool", bashComplete("tapefs pool config "), []string{"daily"})
		check("zsh pool", zshComplete("tapefs", "pool", "config", ""), []string{"daily"})
		check("fish pool", fishComplete("tapefs pool config "), []string{"daily"})
		check("bash command", bashComplete("tapefs barcode-s"), []string{"barcode-sheet"})
		check("zsh flag", zshComplete("tapefs", "barcode-sheet", "--lay"), []string{"--layout"})
		check("bash files", bashComplete("tapefs backup "+s.root+"/vl"), []string{s.root + "/vlib"})
		check("zsh files", zshComplete("tapefs", "backup", ""), []string{"<files>"})

		labels := []string{"TEST01L8", "TEST02L8", "TEST03L8", "TEST04L8", "TEST05L8", "TEST06L8", "TEST07L8", "TEST08L8"}
		check("bash label without daemon", bashComplete("tapefs media destroy TEST0"), labels)
		s.mount()
		// the daemon holds the catalog: the values come through it
		check("bash label with daemon", bashComplete("tapefs media destroy TEST0"), labels)
		check("zsh label with daemon", zshComplete("tapefs", "media", "destroy", "TEST0"), labels)
		check("fish label with daemon", fishComplete("tapefs media destroy TEST0"), labels)
	})

	makeIn(t, "uninstall", "DESTDIR="+dest, "PREFIX=/usr/local")
	if left := tree(t, dest); len(left) > 0 {
		t.Errorf("make uninstall left:\n%s", strings.Join(left, "\n"))
	}
}

// TestBarcodeSheetScans prints a label sheet to PDF, rasterizes it as a
// printer would (pdftoppm, 200 dpi) and reads it with a barcode scanner
// program (zbarimg): every label scans as the requested serial.
func TestBarcodeSheetScans(t *testing.T) {
	needTool(t, "pdftoppm", "poppler-utils")
	needTool(t, "zbarimg", "zbar-tools")
	s := newSandbox(t)
	pdf := filepath.Join(s.root, "labels.pdf")
	s.ok("barcode-sheet", "--prefix", "TEST", "--start", "1", "--count", "40", "--type", "L8",
		"--cleaning", "CLN", "--cleaning-count", "2", "--output", pdf)
	if out, err := exec.Command("pdftoppm", "-r", "200", "-gray", "-png", pdf, filepath.Join(s.root, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v\n%s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(s.root, "page*.png"))
	if len(pages) != 2 {
		t.Fatalf("%d pages, want 2 (32 labels on an A4 page)", len(pages))
	}
	var got []string
	for _, p := range pages {
		cmd := exec.Command("zbarimg", "--quiet", "-Sdisable", "-Scode39.enable", p)
		out, err := cmd.Output() // zbarimg complains about D-Bus on stderr
		if err != nil {
			t.Fatalf("zbarimg %s: %v", p, err)
		}
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			got = append(got, strings.TrimPrefix(l, "CODE-39:"))
		}
	}
	var want []string
	for i := 1; i <= 40; i++ {
		want = append(want, "TEST"+two(i)+"L8")
	}
	want = append(want, "CLN001CU", "CLN002CU")
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("scanned %q\nwant %q", got, want)
	}
}

func two(n int) string { return string(rune('0'+n/10)) + string(rune('0'+n%10)) }

// TestDebPackage builds the .deb, installs it with dpkg, runs tapefs from
// PATH, verifies the installed systemd units, mounts with `mount -t
// fuse.tapefs`, and removes the package. It changes the system, so it runs
// only where TAPEFS_TEST_DEB=1 (.ci/run sets it).
func TestDebPackage(t *testing.T) {
	if os.Getenv("TAPEFS_TEST_DEB") != "1" {
		t.Skip("installs a package on this system: set TAPEFS_TEST_DEB=1")
	}
	needFUSE(t)
	for _, tool := range [][2]string{{"dpkg-deb", "dpkg"}, {"systemd-analyze", "systemd"}, {"make", "make"}, {"man", "man-db"}} {
		needTool(t, tool[0], tool[1])
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "tapefs").Output(); err == nil && strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed") {
		t.Fatalf("a tapefs package is installed already (%s): remove it first", out)
	}
	makeIn(t, "deb")
	debs, _ := filepath.Glob(filepath.Join(repoRoot, "bin", "tapefs_*.deb"))
	sort.Slice(debs, func(i, j int) bool { return mtime(t, debs[i]).After(mtime(t, debs[j])) })
	if len(debs) == 0 {
		t.Fatal("make deb made no bin/tapefs_*.deb")
	}
	if out, err := exec.Command("dpkg", "-i", debs[0]).CombinedOutput(); err != nil {
		t.Fatalf("dpkg -i %s: %v\n%s", debs[0], err, out)
	}
	removed := false
	remove := func() {
		if out, err := exec.Command("dpkg", "-r", "tapefs").CombinedOutput(); err != nil {
			t.Errorf("dpkg -r tapefs: %v\n%s", err, out)
		}
		removed = true
	}
	t.Cleanup(func() {
		if !removed {
			remove()
		}
		exec.Command("dpkg", "--purge", "tapefs").Run()
	})

	path, err := exec.LookPath("tapefs")
	if err != nil || path != "/usr/bin/tapefs" {
		t.Fatalf("tapefs on PATH: %q, %v; want /usr/bin/tapefs", path, err)
	}
	out, err := exec.Command("tapefs", "--version").Output()
	head, _ := exec.Command("git", "-C", repoRoot, "rev-parse", "--short=12", "HEAD").Output()
	if err != nil || !strings.Contains(string(out), "commit "+strings.TrimSpace(string(head))) {
		t.Errorf("tapefs --version: %q, %v; want the commit %s", out, err, head)
	}

	mountUnit := filepath.Join(t.TempDir(), "mnt-tape.mount")
	b, err := os.ReadFile("/usr/share/doc/tapefs/examples/mnt-tape.mount")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mountUnit, b, 0o644); err != nil {
		t.Fatal(err)
	}
	verify := exec.Command("systemd-analyze", "verify", "/usr/lib/systemd/system/tapefs.service", "tapefs@srv-tape.service", mountUnit)
	if out, err := verify.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	s := newSandbox(t)
	setupLibrary(s)
	mnt := filepath.Join(s.root, "mnt")
	if err := os.Mkdir(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := "state-dir=" + filepath.Join(s.root, "state") + ",config-dir=" + filepath.Join(s.root, "etc")
	if out, err := exec.Command("mount", "-t", "fuse.tapefs", "tapefs", mnt, "-o", opts).CombinedOutput(); err != nil {
		t.Fatalf("mount -t fuse.tapefs: %v\n%s", err, out)
	}
	if typ, _ := mountType(t, mnt); typ != "fuse.tapefs" {
		t.Errorf("%s is mounted as %q, want fuse.tapefs", mnt, typ)
	}
	if _, err := os.Stat(filepath.Join(mnt, "pools", "daily", "incoming")); err != nil {
		t.Errorf("the mounted tree: %v", err)
	}
	if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
		t.Errorf("umount: %v\n%s", err, out)
	}
	if isMounted(t, mnt) {
		t.Errorf("%s is still mounted", mnt)
		exec.Command("fusermount3", "-u", "-z", mnt).Run()
	}
	s.waitDaemonGone()

	remove()
	// dpkg -r keeps a package with maintainer scripts as config-files
	// (nothing installed) until it is purged.
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "tapefs").Output(); err == nil && !strings.Contains(string(out), "not-installed") && !strings.Contains(string(out), "config-files") {
		t.Errorf("after dpkg -r: %s", out)
	}
	for _, f := range []string{"/usr/bin/tapefs", "/usr/bin/pmt", "/usr/bin/pmtx", "/usr/sbin/mount.fuse.tapefs",
		"/usr/lib/systemd/system/tapefs.service", "/usr/share/man/man1/tapefs.1.gz", "/usr/share/doc/tapefs",
		"/usr/share/bash-completion/completions/tapefs", "/usr/share/zsh/vendor-completions/_tapefs"} {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s is still there after dpkg -r", f)
		}
	}
}

func mtime(t *testing.T, p string) time.Time {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ModTime()
}
