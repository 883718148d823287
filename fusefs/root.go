package fusefs

import (
	"context"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/engine"
)

// Runner runs one tapefs command line (without the program name, e.g.
// ["label", "--label-text", "TEST01L8", "--drive", "d0"]) against the
// daemon's engine, writing what the command prints to stdout and stderr,
// and returns the command's error. The command layer supplies it: it is
// the same command tree as the CLI, so control files take the same options
// and give the same messages. It must be safe for concurrent use.
type Runner func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// Options configure the tree.
type Options struct {
	// Engine serves every listing and status file.
	Engine *engine.Engine
	// Run runs control-file commands.
	Run Runner
	// MountPoint is shown in the status file.
	MountPoint string
	// Logf receives errors that reach the kernel as EIO (one line each);
	// nil discards them.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AdminGID, when not nil, is the group that may read and write the
	// private nodes (control files, status, jobs/) like the daemon's
	// user; it matters with allow_other only.
	AdminGID *uint32
}

// Root is the root directory of the tree. Create it with New and mount it
// with Mount.
type Root struct {
	dir
	opts     Options
	eng      *engine.Engine
	started  time.Time
	uid, gid uint32
	pid      int

	mu      sync.Mutex
	results map[string]*result // last run of each control file, by path

	listings listingCache // decoded snapshot directories
	prefetch listPrefetch // of the directories a walk opens next
	pruner   pruner       // asks the kernel to forget old snapshot entries
}

// New returns the root of a tree over opts.Engine.
func New(opts Options) (*Root, error) {
	if opts.Engine == nil {
		return nil, errInvalid("fusefs: no engine")
	}
	if opts.Run == nil {
		return nil, errNoRunner
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logf == nil {
		opts.Logf = func(string, ...any) {}
	}
	r := &Root{
		opts: opts, eng: opts.Engine, started: opts.Now(),
		uid: uint32(os.Getuid()), gid: uint32(os.Getgid()), pid: os.Getpid(),
		results: map[string]*result{},
	}
	r.dir = dir{readOnly: readOnly{root: r}, list: r.rootEntries, cache: pathCacheTimeout}
	return r, nil
}

func (r *Root) now() time.Time { return r.opts.Now() }

// privateMode is the mode and group of a private node of mode (type and
// permission bits as for everybody): the owner's bits only, shared with
// the admin group when there is one. With allow_other the kernel enforces
// them (default_permissions).
func (r *Root) privateMode(mode uint32) (uint32, uint32) {
	owner := mode & 0o700
	if r.opts.AdminGID != nil {
		return mode&^0o777 | owner | owner>>3, *r.opts.AdminGID
	}
	return mode&^0o777 | owner, r.gid
}

// errno translates err for the kernel and logs what becomes EIO.
func (r *Root) errno(what string, err error) syscall.Errno {
	e := Errno(err)
	if e == syscall.EIO {
		r.opts.Logf("%s: %v", what, err)
	}
	return e
}

// MountOptions are the mount options tapefs users choose.
type MountOptions struct {
	// AllowOther lets users other than the daemon's see the tree (needs
	// user_allow_other in /etc/fuse.conf for a non-root daemon).
	AllowOther bool
	// ReadOnly mounts the whole tree read-only: control files cannot be
	// written either.
	ReadOnly bool
	// Debug logs every FUSE request.
	Debug bool
}

// Mount mounts root on mountpoint and starts serving. The caller unmounts
// with the returned server's Unmount and waits with its Wait.
func Mount(mountpoint string, root *Root, mo MountOptions) (*fuse.Server, error) {
	return mount(mountpoint, root, mo, nil)
}

// mount is Mount with the bridge wrapped by wrap when not nil (tests count
// requests with it).
func mount(mountpoint string, root *Root, mo MountOptions, wrap func(fuse.RawFileSystem) fuse.RawFileSystem) (*fuse.Server, error) {
	opts := mountOptions(root, mo)
	raw := fs.NewNodeFS(root, opts)
	if wrap != nil {
		raw = wrap(raw)
	}
	server, err := fuse.NewServer(raw, mountpoint, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	go server.Serve()
	if err := server.WaitMount(); err != nil {
		// As fs.Mount: a failed mount leaves no loop to stop.
		return nil, err
	}
	return server, nil
}

func mountOptions(root *Root, mo MountOptions) *fs.Options {
	zero := time.Duration(0)
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			// The tree lets other users in only when asked; the kernel
			// then checks modes (default_permissions below).
			AllowOther: mo.AllowOther,
			// "tapefs" as source and subtype: the mount table shows
			// "tapefs on /mnt type fuse.tapefs", which is what
			// `mount -t fuse.tapefs` and fstab entries name.
			FsName: "tapefs",
			Name:   "tapefs",
			// As root, mount(2) directly instead of going through
			// fusermount3; without privileges go-fuse falls back to it.
			DirectMount: os.Geteuid() == 0,
			// default_permissions when others can reach the tree: the
			// kernel enforces the mode bits we report (control files 0600
			// owned by the daemon's user, see privateMode), so with
			// allow_other only the daemon's user can run commands.
			Options: mountFlags(mo),
			Debug:   mo.Debug,
			// READDIRPLUS (go-fuse's default, and not the kernel's
			// READDIRPLUS_AUTO): every batch carries the entries'
			// attributes, so stat, ls -l, du and find -printf need no
			// LOOKUP per entry. With AUTO, find -printf %s over a
			// snapshot sent a LOOKUP for a fifth of the entries (the
			// kernel turns READDIRPLUS back on only after a stat, and
			// find reads a directory whole before it stats) and ran
			// at half the speed; plain find gained nothing.
			// A created file's handle is direct I/O (incoming.go);
			// this lets such a file be mapped shared all the same.
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
		},
		// Every browse file shows live state (cached status, inventory,
		// jobs), so the kernel must not cache entries or attributes:
		// zero timeouts. Immutable snapshot trees set long timeouts on
		// their own nodes (snapshots.go), incoming/ and the directories
		// on the way to it short ones (inCacheTimeout, pathCacheTimeout).
		EntryTimeout:    &zero,
		AttrTimeout:     &zero,
		NegativeTimeout: &zero,
		// Every node reports its permission bits: a file created with
		// mode 0 or chmod-ed to 0 in incoming/ (and one archived so)
		// shows 0000, not go-fuse's stand-in of 0644 or 0755.
		NullPermissions: true,
		// Inode numbers are ours (see the package comment).
		RootStableAttr: &fs.StableAttr{Ino: 1},
		// No UID/GID: go-fuse would show them in place of every uid or
		// gid 0, and every node sets its owner (the daemon's for the
		// browse trees, the file's own in snapshots and incoming/), so a
		// non-root daemon would show root's files as its own.
	}
	return opts
}

// mountFlags: the kernel checks modes (default_permissions) whenever
// somebody other than root can reach the tree. A root daemon's tree
// without allow_other is open to root's processes only, which pass every
// mode check but the exec bits, and those the kernel checks in any case
// (go-fuse's ACCESS answers access(2) the same way). There the option
// only costs a GETATTR of the directory after every file created in it
// (a create invalidates the directory's attributes, and the permission
// check on the next path through it asks again): one request in eight of
// cp -a's per small file.
func mountFlags(mo MountOptions) []string {
	var o []string
	if mo.AllowOther || os.Geteuid() != 0 {
		o = append(o, "default_permissions")
	}
	if mo.ReadOnly {
		o = append(o, "ro")
	}
	return o
}
