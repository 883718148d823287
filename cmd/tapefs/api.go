package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"tapefs/cmd/internal/cliapp"
	"tapefs/engine"
)

// The daemon's API: while `tapefs mount` runs, every tapefs command (but
// the local ones, see localCommands) is sent to it over a Unix socket in
// the state directory and runs there against the daemon's engine, which
// holds the devices and the catalog.
//
// Protocol: the client sends one JSON line, apiRequest; the daemon answers
// with frames of one byte kind, a 4-byte big-endian length and the payload:
// '1' stdout bytes, '2' stderr bytes, 'x' the end (an apiExit as JSON).
// Closing the connection early cancels the command as Ctrl-C would.

// socketName is the API socket in the state directory.
const socketName = "api.sock"

// localCommands run in the calling process even while a daemon runs: the
// daemon itself, the virtual library tools (they work on library files
// under a short lock), help, and the key commands that read a password
// from the caller's terminal (they work on the key store under its own
// lock; `key restore` asks the daemon for the tape's key config with the
// forwarded `key tape-config`), and the commands that need neither engine
// nor state (barcode-sheet, completion, __gendoc; __complete asks the
// daemon itself for what it needs). An entry names a command or a command path ("key
// create").
var localCommands = []string{"mount", "daemon", "vtape", "help", "h", "key create", "key change-passphrase", "key restore", "barcode-sheet", "completion", "__complete", "__gendoc"}

// isLocal reports whether the command path runs in the calling process.
func isLocal(path []*cli.Command) bool {
	name := ""
	for _, c := range path {
		name = strings.TrimSpace(name + " " + c.Name)
		if slices.Contains(localCommands, name) {
			return true
		}
	}
	return false
}

type apiRequest struct {
	// Args are the command line after the program name, with the
	// caller's environment defaults (TAPEFS_DRIVE) turned into flags.
	Args []string `json:"args"`
}

type apiExit struct {
	Code  int    `json:"code"`
	Error string `json:"error,omitempty"`
}

// frameWriter writes one kind of frame; writers of one connection share
// a mutex, so frames never interleave.
type frameWriter struct {
	mu   *sync.Mutex
	conn io.Writer
	kind byte
}

func (w frameWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	var hdr [5]byte
	hdr[0] = w.kind
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	if _, err := w.conn.Write(hdr[:]); err != nil {
		return 0, err
	}
	return w.conn.Write(p)
}

// apiServer serves the API socket with run (the daemon's command runner).
type apiServer struct {
	ln net.Listener
	// access decides who may run commands (access.go).
	access access
	run    func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	logf   func(format string, args ...any)
	wg     sync.WaitGroup
}

// serve accepts connections until the listener is closed.
func (s *apiServer) serve() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer conn.Close()
			if err := s.access.checkPeer(conn); err != nil {
				s.logf("API: refused a connection: %v", err)
				s.refuse(conn, err)
				return
			}
			s.handle(conn)
		}()
	}
}

// close stops accepting and waits for running commands to finish.
func (s *apiServer) close() {
	s.ln.Close()
	s.wg.Wait()
}

// refuse answers a connection that may not run commands with err, before
// reading anything from it.
func (s *apiServer) refuse(conn net.Conn, err error) {
	b, _ := json.Marshal(apiExit{Code: cliapp.ExitCode(err), Error: err.Error()})
	frameWriter{mu: &sync.Mutex{}, conn: conn, kind: 'x'}.Write(b)
}

func (s *apiServer) handle(conn net.Conn) {
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		s.logf("API: reading request: %v", err)
		return
	}
	var req apiRequest
	if err := json.Unmarshal(line, &req); err != nil {
		s.logf("API: bad request: %v", err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx = engine.WithTaskOrigin(ctx, peerOrigin(conn))
	// The client sends nothing more; EOF means it went away (Ctrl-C).
	go func() {
		io.Copy(io.Discard, br)
		cancel()
	}()
	mu := &sync.Mutex{}
	stdout := frameWriter{mu: mu, conn: conn, kind: '1'}
	stderr := frameWriter{mu: mu, conn: conn, kind: '2'}
	runErr := s.run(ctx, req.Args, stdout, stderr)
	ex := apiExit{Code: cliapp.ExitCode(runErr)}
	if runErr != nil {
		ex.Error = runErr.Error()
	}
	b, _ := json.Marshal(ex)
	frameWriter{mu: mu, conn: conn, kind: 'x'}.Write(b)
}

// peerOrigin names the process at the other end of an API connection
// for the task history.
func peerOrigin(conn net.Conn) string {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return "cli"
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return "cli"
	}
	var cred *unix.Ucred
	raw.Control(func(fd uintptr) { cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if err != nil || cred == nil {
		return "cli"
	}
	return cliOrigin(int(cred.Pid), int(cred.Uid))
}

// forward runs args (os.Args) on the daemon if one serves the state
// directory the command would use. It returns false when the command must
// run locally (a local command, or no daemon listening).
func forward(ctx context.Context, args []string, stdout, stderr io.Writer) (code int, ok bool) {
	app := newApp(io.Discard, io.Discard, nil)
	reordered := cliapp.Reorder(app, args)
	path := commandPath(app, reordered)
	if len(path) == 0 || isLocal(path) {
		return 0, false
	}
	conn, err := net.Dial("unix", filepath.Join(stateDirOf(args), socketName))
	if err != nil && isReadOnly(path) {
		// No daemon: a CLI job that holds the state serves read-only
		// commands (jobserver.go).
		conn, err = net.Dial("unix", filepath.Join(stateDirOf(args), jobSocketName))
	}
	if err != nil {
		return 0, false // no daemon: run in this process
	}
	defer conn.Close()
	fwd, err := forwardArgs(app, path, args)
	if err != nil {
		fmt.Fprintf(stderr, "tapefs: %v\n", err)
		return 1, true
	}
	req := apiRequest{Args: fwd}
	b, err := json.Marshal(req)
	if err != nil {
		return cliapp.ExitCode(err), true
	}
	// A daemon that refuses this user answers at once and closes without
	// reading the request: then the write fails and its answer says why.
	_, writeErr := conn.Write(append(b, '\n'))
	go func() {
		<-ctx.Done()
		conn.Close()
	}()
	br := bufio.NewReader(conn)
	for {
		var hdr [5]byte
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if writeErr != nil {
				fmt.Fprintf(stderr, "tapefs: sending the command to the daemon: %v\n", writeErr)
				return 1, true
			}
			if ctx.Err() != nil {
				fmt.Fprintln(stderr, "tapefs: interrupted")
				return 130, true
			}
			fmt.Fprintf(stderr, "tapefs: the daemon closed the connection before the command finished: %v\n", err)
			return 1, true
		}
		payload := make([]byte, binary.BigEndian.Uint32(hdr[1:]))
		if _, err := io.ReadFull(br, payload); err != nil {
			fmt.Fprintf(stderr, "tapefs: reading from the daemon: %v\n", err)
			return 1, true
		}
		switch hdr[0] {
		case '1':
			stdout.Write(payload)
		case '2':
			stderr.Write(payload)
		case 'x':
			var ex apiExit
			if err := json.Unmarshal(payload, &ex); err != nil {
				fmt.Fprintf(stderr, "tapefs: bad answer from the daemon: %v\n", err)
				return 1, true
			}
			if ex.Error != "" {
				fmt.Fprintf(stderr, "tapefs: %s\n", ex.Error)
			}
			return ex.Code, true
		}
	}
}

// callerPaths names, by command path, the arguments that are file names
// on the caller's side: positional arguments by index and flags by name.
// The daemon runs in its own working directory (/ under systemd), so
// forwardArgs makes them absolute.
var callerPaths = map[string]struct {
	pos   []int
	flags []string
}{
	"backup":            {pos: []int{0}},
	"restore":           {pos: []int{1}},
	"changer create":    {flags: []string{"path"}},
	"changer update":    {flags: []string{"path"}},
	"drive create":      {flags: []string{"path"}},
	"drive update":      {flags: []string{"path"}},
	"backup-job create": {flags: []string{"source"}},
	"backup-job update": {flags: []string{"source"}},
	"notify update":     {flags: []string{"sendmail", "command"}},
}

// forwardArgs is the command line (without the program name) that the
// daemon runs for args: the caller's relative file names made absolute
// (see callerPaths) and the caller's environment defaults turned into
// flags (see envFlags), ahead of a "--".
func forwardArgs(app *cli.App, path []*cli.Command, args []string) ([]string, error) {
	names, flags, pos, dash := cliapp.Split(app, args)
	var cmd []string
	for _, c := range path {
		cmd = append(cmd, c.Name)
	}
	abs := func(p string) (string, error) {
		if p == "" || filepath.IsAbs(p) {
			return p, nil
		}
		a, err := filepath.Abs(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		return a, nil
	}
	cp := callerPaths[strings.Join(cmd, " ")]
	flags = slices.Clone(flags)
	for i := 0; i < len(flags); i++ {
		name, value, hasValue := strings.Cut(strings.TrimLeft(flags[i], "-"), "=")
		if !slices.Contains(cp.flags, name) {
			continue
		}
		if hasValue {
			a, err := abs(value)
			if err != nil {
				return nil, err
			}
			flags[i] = "--" + name + "=" + a
		} else if i+1 < len(flags) {
			a, err := abs(flags[i+1])
			if err != nil {
				return nil, err
			}
			flags[i+1] = a
			i++
		}
	}
	pos = slices.Clone(pos)
	for _, i := range cp.pos {
		if i < len(pos) {
			a, err := abs(pos[i])
			if err != nil {
				return nil, err
			}
			pos[i] = a
		}
	}
	out := append(slices.Clone(names[1:]), flags...)
	out = append(out, envFlags(path[len(path)-1], args)...)
	if dash {
		out = append(out, "--")
	}
	return append(out, pos...), nil
}

// commandPath returns the commands named by reordered args (as
// cliapp.Reorder returns them: command names first).
func commandPath(app *cli.App, reordered []string) []*cli.Command {
	var out []*cli.Command
	cmds := app.Commands
	for _, a := range reordered[1:] {
		if strings.HasPrefix(a, "-") {
			break
		}
		var found *cli.Command
		for _, c := range cmds {
			if c.HasName(a) {
				found = c
				break
			}
		}
		if found == nil {
			break
		}
		out = append(out, found)
		cmds = found.Subcommands
	}
	return out
}

// stateDirOf is the state directory a command line uses: --state-dir, else
// TAPEFS_STATE_DIR, else the default.
func stateDirOf(args []string) string {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--state-dir="); ok {
			return v
		}
		if (a == "--state-dir" || a == "-state-dir") && i+1 < len(args) {
			return args[i+1]
		}
	}
	if v := os.Getenv("TAPEFS_STATE_DIR"); v != "" {
		return v
	}
	return "/var/lib/tapefs"
}

// envFlags turns the caller's environment defaults of cmd's flags
// (TAPEFS_DRIVE, PROXMOX_TAPE_DRIVE) into explicit flags, since the
// daemon's own environment must not apply. The state and config
// directories are the daemon's.
func envFlags(cmd *cli.Command, args []string) []string {
	var out []string
	for _, f := range cmd.Flags {
		sf, ok := f.(*cli.StringFlag)
		if !ok || len(sf.EnvVars) == 0 || sf.Name == "state-dir" || sf.Name == "config-dir" {
			continue
		}
		if given(args, sf.Names()) {
			continue
		}
		for _, ev := range sf.EnvVars {
			if v, ok := os.LookupEnv(ev); ok && v != "" {
				out = append(out, "--"+sf.Name+"="+v)
				break
			}
		}
	}
	return out
}

func given(args []string, names []string) bool {
	for _, a := range args {
		if a == "--" {
			return false
		}
		f := strings.TrimLeft(a, "-")
		if f == a {
			continue
		}
		for _, n := range names {
			if f == n || strings.HasPrefix(f, n+"=") {
				return true
			}
		}
	}
	return false
}
