package clidoc

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/cpuguy83/go-md2man/v2/md2man"
	"github.com/urfave/cli/v2"
)

// Page is one generated man page.
type Page struct {
	Name    string // "tapefs-drive"
	Section int
	Roff    []byte
}

// File is the page's file name ("tapefs-drive.1").
func (p Page) File() string { return fmt.Sprintf("%s.%d", p.Name, p.Section) }

// ManInfo is what the pages say beyond the command tree.
type ManInfo struct {
	Section     int
	Date        string // "2026-12-06"
	Version     string // "tapefs 0.3.0"
	Description string // DESCRIPTION of the main page (markdown)
	ExitStatus  string // EXIT STATUS section (markdown)
	SeeAlso     []string
	// SplitCommands gives every top-level command a page of its own
	// (PROG-COMMAND), as git does; else the main page has them all.
	SplitCommands bool
}

// ManPages returns app's man pages: PROG.SECTION with the synopsis, global
// options, the list of commands, environment and exit status; with
// SplitCommands also one PROG-COMMAND page per top-level command, with each
// of its subcommands, their arguments and options.
func ManPages(app *cli.App, info ManInfo) []Page {
	var pages []Page
	var cmds []*cli.Command
	for _, c := range app.Commands {
		if !c.Hidden && c.Name != "help" {
			cmds = append(cmds, c)
		}
	}
	related := append([]string{}, info.SeeAlso...)
	if info.SplitCommands {
		for _, c := range cmds {
			related = append(related, fmt.Sprintf("%s-%s(%d)", app.Name, c.Name, info.Section))
		}
	}

	var b strings.Builder
	header(&b, app.Name, info)
	fmt.Fprintf(&b, "# NAME\n%s \\- %s\n\n", app.Name, esc(app.Usage))
	fmt.Fprintf(&b, "# SYNOPSIS\n**%s** [*global options*] *command* [*options*] [*arguments*]\n\n", app.Name)
	if info.Description != "" {
		fmt.Fprintf(&b, "# DESCRIPTION\n%s\n\n", strings.TrimSpace(info.Description))
	}
	fmt.Fprintf(&b, "# GLOBAL OPTIONS\n")
	options(&b, app.Flags, nil)
	b.WriteString("# COMMANDS\n")
	if !info.SplitCommands {
		b.WriteString("Each command also takes the global options.\n\n")
	}
	for _, c := range cmds {
		if info.SplitCommands {
			fmt.Fprintf(&b, "**%s %s**\n: %s (see **%s-%s**(%d))\n\n", app.Name, c.Name, esc(c.Usage), app.Name, c.Name, info.Section)
			continue
		}
		command(&b, app.Name, app.Flags, []*cli.Command{c}, "###")
	}
	environment(&b, app)
	if info.ExitStatus != "" {
		fmt.Fprintf(&b, "# EXIT STATUS\n%s\n\n", strings.TrimSpace(info.ExitStatus))
	}
	seeAlso(&b, related)
	pages = append(pages, Page{Name: app.Name, Section: info.Section, Roff: md2man.Render([]byte(b.String()))})

	if !info.SplitCommands {
		return pages
	}
	for _, c := range cmds {
		var b strings.Builder
		name := app.Name + "-" + c.Name
		header(&b, name, info)
		fmt.Fprintf(&b, "# NAME\n%s \\- %s\n\n", name, esc(c.Usage))
		command(&b, app.Name, app.Flags, []*cli.Command{c}, "#")
		environment(&b, &cli.App{Commands: []*cli.Command{c}})
		seeAlso(&b, append([]string{fmt.Sprintf("%s(%d)", app.Name, info.Section)}, info.SeeAlso...))
		pages = append(pages, Page{Name: name, Section: info.Section, Roff: md2man.Render([]byte(b.String()))})
	}
	return pages
}

func header(b *strings.Builder, name string, info ManInfo) {
	// md2man makes the first level-1 heading the .TH line.
	fmt.Fprintf(b, "# %s %d %q %q %q\n\n", strings.ToUpper(name), info.Section, info.Date, info.Version, "tapefs manual")
}

// command writes the synopsis, description and options of the commands
// at the end of path and, for a group, of each of its subcommands, under
// headings of level h.
func command(b *strings.Builder, prog string, globals []cli.Flag, path []*cli.Command, h string) {
	c := path[len(path)-1]
	var names []string
	for _, p := range path {
		names = append(names, p.Name)
	}
	full := prog + " " + strings.Join(names, " ")
	if len(c.Subcommands) > 0 {
		if h == "#" {
			fmt.Fprintf(b, "# SYNOPSIS\n**%s** *command* [*options*] [*arguments*]\n\n", full)
			if c.Description != "" {
				fmt.Fprintf(b, "# DESCRIPTION\n%s\n\n", paragraph(c.Description))
			}
			fmt.Fprintf(b, "# COMMANDS\nEach command also takes the global options of **%s**(1).\n\n", prog)
			h = "###"
		}
		for _, s := range c.Subcommands {
			if s.Hidden || s.Name == "help" {
				continue
			}
			command(b, prog, globals, append(slices.Clip(path), s), h)
		}
		return
	}
	synopsis := fmt.Sprintf("**%s** [*options*]", full)
	if c.ArgsUsage != "" {
		synopsis += " " + esc(c.ArgsUsage)
	}
	if h == "#" {
		fmt.Fprintf(b, "# SYNOPSIS\n%s\n\n# DESCRIPTION\n%s\n\n", synopsis, esc(c.Usage))
		if c.Description != "" {
			fmt.Fprintf(b, "%s\n\n", paragraph(c.Description))
		}
		fmt.Fprintf(b, "# OPTIONS\nThe command also takes the global options of **%s**(1).\n\n", prog)
		options(b, c.Flags, globals)
		return
	}
	fmt.Fprintf(b, "%s %s\n%s\n\n%s\n\n", h, full, synopsis, esc(c.Usage))
	if c.Description != "" {
		fmt.Fprintf(b, "%s\n\n", paragraph(c.Description))
	}
	options(b, c.Flags, globals)
}

// options writes flags as a definition list, leaving out those that are
// the same as one of globals (the common flags every command takes, listed
// once on the main page).
func options(b *strings.Builder, flags, globals []cli.Flag) {
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		if isGlobal(f, globals) {
			continue
		}
		var names []string
		for _, name := range f.Names() {
			if len(name) == 1 {
				names = append(names, "**-"+name+"**")
			} else {
				names = append(names, "**--"+name+"**")
			}
		}
		term := strings.Join(names, ", ")
		usage := ""
		df, ok := f.(cli.DocGenerationFlag)
		if ok {
			placeholder, u := unquote(df.GetUsage())
			usage = u
			if df.TakesValue() {
				if placeholder == "" {
					placeholder = "value"
				}
				term += " *" + placeholder + "*"
			}
			switch d, v := df.GetDefaultText(), df.GetValue(); {
			case strings.Contains(usage, "default") || !df.TakesValue():
			case d != "":
				usage += " (default: " + d + ")"
			case v != "":
				usage += " (default: " + v + ")"
			}
			if env := df.GetEnvVars(); len(env) > 0 {
				usage += " [env: " + strings.Join(env, ", ") + "]"
			}
		}
		fmt.Fprintf(b, "%s\n: %s\n\n", term, esc(usage))
	}
}

func isGlobal(f cli.Flag, globals []cli.Flag) bool {
	g := findFlag(globals, f.Names()[0])
	if g == nil {
		return false
	}
	fu, ok1 := f.(cli.DocGenerationFlag)
	gu, ok2 := g.(cli.DocGenerationFlag)
	return ok1 && ok2 && fu.GetUsage() == gu.GetUsage()
}

var backticked = regexp.MustCompile("`([^` ]*)`")

// unquote splits urfave/cli's "drive `NAME` (default ...)" usage into the
// placeholder and the text.
func unquote(usage string) (string, string) {
	m := backticked.FindStringSubmatch(usage)
	if m == nil {
		return "", usage
	}
	return m[1], strings.Replace(usage, m[0], m[1], 1)
}

// environment lists the environment variables the commands' flags read.
func environment(b *strings.Builder, app *cli.App) {
	env := map[string][]string{}
	var walk func(prefix string, flags []cli.Flag, cmds []*cli.Command)
	walk = func(prefix string, flags []cli.Flag, cmds []*cli.Command) {
		for _, f := range flags {
			if df, ok := f.(cli.DocGenerationFlag); ok {
				for _, e := range df.GetEnvVars() {
					name := "--" + f.Names()[0]
					if !slices.Contains(env[e], name) {
						env[e] = append(env[e], name)
					}
				}
			}
		}
		for _, c := range cmds {
			walk(prefix+" "+c.Name, c.Flags, c.Subcommands)
		}
	}
	walk("", app.Flags, app.Commands)
	if len(env) == 0 {
		return
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b.WriteString("# ENVIRONMENT\n")
	for _, k := range keys {
		fmt.Fprintf(b, "**%s**\n: the default of %s\n\n", k, strings.Join(env[k], ", "))
	}
}

func seeAlso(b *strings.Builder, refs []string) {
	if len(refs) == 0 {
		return
	}
	var out []string
	for _, r := range refs {
		name, sec, _ := strings.Cut(r, "(")
		out = append(out, "**"+name+"**("+sec)
	}
	fmt.Fprintf(b, "# SEE ALSO\n%s\n", strings.Join(out, ", "))
}

// esc keeps markdown from reading command-line text as emphasis.
func esc(s string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "<", `\<`, "`", "").Replace(s)
}

// paragraph turns a Description (lines broken for a terminal) into
// markdown paragraphs.
func paragraph(s string) string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		out = append(out, esc(strings.Join(strings.Fields(p), " ")))
	}
	return strings.Join(out, "\n\n")
}

// Markdown renders a markdown document (docs/fuse.md) as the man page
// name.section: its first heading is replaced by the title and a NAME
// section with summary.
func Markdown(doc []byte, name string, section int, summary string, info ManInfo) Page {
	var b strings.Builder
	header(&b, name, ManInfo{Section: section, Date: info.Date, Version: info.Version})
	fmt.Fprintf(&b, "# NAME\n%s \\- %s\n\n# DESCRIPTION\n", name, esc(summary))
	lines := bytes.Split(doc, []byte("\n"))
	for i, l := range lines {
		if i == 0 && bytes.HasPrefix(l, []byte("# ")) {
			continue
		}
		b.Write(l)
		b.WriteByte('\n')
	}
	seeAlso(&b, info.SeeAlso)
	return Page{Name: name, Section: section, Roff: md2man.Render([]byte(b.String()))}
}

// MissingFromPages returns the visible commands ("pool config") and the
// visible options of leaf commands ("pool update --force") of app that
// none of pages shows. Tests of each program call it on their real
// command tree, so commands added later are checked too.
func MissingFromPages(app *cli.App, pages []Page) []string {
	var text strings.Builder
	for _, p := range pages {
		text.Write(p.Roff)
	}
	// roff escapes "-" as "\-" in places; compare without the escapes
	all := strings.ReplaceAll(text.String(), `\-`, "-")
	all = strings.NewReplacer(`\fB`, "", `\fR`, "", `\fI`, "", `\fP`, "").Replace(all)
	var missing []string
	var walk func(path []string, cmds []*cli.Command)
	walk = func(path []string, cmds []*cli.Command) {
		for _, c := range cmds {
			if c.Hidden || c.Name == "help" {
				continue
			}
			p := append(slices.Clip(path), c.Name)
			name := app.Name + " " + strings.Join(p, " ")
			if !strings.Contains(all, name) {
				missing = append(missing, strings.Join(p, " "))
			}
			for _, f := range c.Flags {
				if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
					continue
				}
				if !strings.Contains(all, "--"+f.Names()[0]) {
					missing = append(missing, strings.Join(p, " ")+" --"+f.Names()[0])
				}
			}
			walk(p, c.Subcommands)
		}
	}
	walk(nil, app.Commands)
	return missing
}
