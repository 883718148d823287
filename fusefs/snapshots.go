package fusefs

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/catalog"
	"tapefs/engine"
	"tapefs/engine/format"
)

// snapshotTimeout is the kernel's entry and attribute cache time for
// snapshot nodes. A snapshot never changes; it can only disappear with its
// media set, and then reads fail with ENOENT until the entries expire.
const snapshotTimeout = time.Hour

// Extended attributes that tapefs adds to snapshot files with data on
// tape. The user.tapefs ones are listed (getfattr -d shows them); the
// user.ltfs ones are answered by name only, as LTFS does with its virtual
// attributes, for tools that sort reads by tape position.
const (
	xattrMedia      = "user.tapefs.media"
	xattrSet        = "user.tapefs.set"
	xattrFile       = "user.tapefs.file"
	xattrOffset     = "user.tapefs.offset"
	xattrStartBlock = "user.ltfs.startblock"
	xattrPartition  = "user.ltfs.partition"
)

var listedTapeXattrs = []string{xattrMedia, xattrSet, xattrFile, xattrOffset}

// Views of a snapshot: the same snapshot shows under pools/<p>/snapshots
// and pools/<p>/media-sets/<set>/snapshots with different inode numbers,
// since a directory may have only one parent.
const (
	viewPool byte = 0
	viewSet  byte = 1
)

// snapIno is the inode number of path p in a snapshot with catalog id id,
// in one view: FNV-1a over the three. Hard links pass the file's first
// name, so every name of an inode has the same number.
func snapIno(id uint64, view byte, p string) uint64 {
	h := fnv.New64a()
	var b [9]byte
	binary.BigEndian.PutUint64(b[:], id)
	b[8] = view
	h.Write(b[:])
	h.Write([]byte(p))
	n := h.Sum64()
	if n < 2 {
		n += 2
	}
	return n
}

// ---- media sets ----

// setDirs names the media sets of a pool: by name when the name is a
// usable, unique file name, else by UUID.
func (r *Root) setDirs(pool string) (map[string]catalog.MediaSet, error) {
	cat, err := r.eng.Catalog()
	if err != nil {
		return nil, err
	}
	sets, err := cat.ListMediaSets(pool)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = r.eng.MediaSetName(s)
		count[names[i]]++
	}
	out := make(map[string]catalog.MediaSet, len(sets))
	for i, s := range sets {
		n := names[i]
		if count[n] > 1 || n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\x00") || len(n) > 255 {
			n = s.UUID.String()
		}
		out[n] = s
	}
	return out, nil
}

func (r *Root) mediaSetsEntries(pool string) ([]entry, error) {
	dirs, err := r.setDirs(pool)
	if err != nil {
		return nil, err
	}
	var out []entry
	for name, s := range dirs {
		out = append(out, r.mediaSetEntry(name, s.UUID))
	}
	return out, nil
}

// mediaSetsDir is pools/<pool>/media-sets: a set is also found by its
// UUID when it is listed by name.
func (r *Root) mediaSetsDir(pool string) entry {
	e := dirEntry("media-sets", func(ctx context.Context) ([]entry, error) { return r.mediaSetsEntries(pool) })
	e.make = func(r *Root, p string) fs.InodeEmbedder {
		return &setsDir{dir: dir{readOnly: readOnly{root: r, path: p}, list: func(ctx context.Context) ([]entry, error) { return r.mediaSetsEntries(pool) }}, pool: pool}
	}
	return e
}

type setsDir struct {
	dir
	pool string
}

func (n *setsDir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	child, errno := n.dir.Lookup(ctx, name, out)
	if errno != syscall.ENOENT {
		return child, errno
	}
	id, err := uuid.Parse(name)
	if err != nil || id.String() != name {
		return nil, syscall.ENOENT
	}
	cat, err := n.root.eng.Catalog()
	if err != nil {
		return nil, n.root.errno("lookup "+join(n.path, name), err)
	}
	if s, err := cat.GetMediaSet(id); err != nil || s.Pool != n.pool {
		return nil, syscall.ENOENT
	}
	e := n.root.mediaSetEntry(name, id)
	p := join(n.path, name)
	node := e.make(n.root, p)
	var ao fuse.AttrOut
	node.(*dir).Getattr(ctx, nil, &ao)
	out.Attr = ao.Attr
	return n.NewInode(ctx, node, fs.StableAttr{Mode: e.mode, Ino: e.inode(n.path)}), 0
}

func (r *Root) mediaSetEntry(name string, id uuid.UUID) entry {
	return dirEntry(name, func(ctx context.Context) ([]entry, error) { return r.mediaSetContent(id) })
}

// MediaSetInfo is the content of media-sets/<set>/info.json.
type MediaSetInfo struct {
	UUID      string    `json:"uuid"`
	Name      string    `json:"name"`
	Pool      string    `json:"pool"`
	Ctime     time.Time `json:"ctime"`
	Closed    bool      `json:"closed"`
	LastWrite time.Time `json:"last-write,omitzero"`
	Media     []string  `json:"media"`
	Snapshots []string  `json:"snapshots"`
}

func (r *Root) mediaSetInfo(id uuid.UUID) (*MediaSetInfo, error) {
	cat, err := r.eng.Catalog()
	if err != nil {
		return nil, err
	}
	s, err := cat.GetMediaSet(id)
	if err != nil {
		return nil, err
	}
	mi := &MediaSetInfo{UUID: s.UUID.String(), Name: r.eng.MediaSetName(s), Pool: s.Pool, Ctime: s.Ctime,
		Closed: s.Closed, LastWrite: s.LastWrite, Media: []string{}, Snapshots: []string{}}
	for _, m := range s.Media {
		label := m.String()
		if mm, err := cat.GetMedia(m); err == nil {
			label = mm.LabelText
		}
		mi.Media = append(mi.Media, label)
	}
	snaps, err := cat.ListSnapshots(catalog.SnapshotFilter{Set: id})
	if err != nil {
		return nil, err
	}
	for _, sn := range snaps {
		mi.Snapshots = append(mi.Snapshots, sn.Name)
	}
	return mi, nil
}

func (r *Root) mediaSetContent(id uuid.UUID) ([]entry, error) {
	if _, err := r.mediaSetInfo(id); err != nil {
		return nil, err
	}
	return []entry{
		fileEntry("info", func(ctx context.Context) ([]byte, error) {
			mi, err := r.mediaSetInfo(id)
			if err != nil {
				return nil, err
			}
			return kvText([][2]string{
				{"uuid", mi.UUID}, {"name", mi.Name}, {"pool", mi.Pool}, {"ctime", fmtTime(mi.Ctime)},
				{"closed", strconv.FormatBool(mi.Closed)}, {"last-write", fmtTime(mi.LastWrite)},
				{"media", strings.Join(mi.Media, " ")}, {"snapshots", strconv.Itoa(len(mi.Snapshots))},
			}), nil
		}),
		fileEntry("info.json", func(ctx context.Context) ([]byte, error) { return jsonBytes(r.mediaSetInfo(id)) }),
		fileEntry("media", func(ctx context.Context) ([]byte, error) {
			mi, err := r.mediaSetInfo(id)
			if err != nil {
				return nil, err
			}
			var b bytes.Buffer
			for _, l := range mi.Media {
				b.WriteString(l + "\n")
			}
			return b.Bytes(), nil
		}),
		dirEntry("snapshots", func(ctx context.Context) ([]entry, error) {
			return r.snapshotGroups(catalog.SnapshotFilter{Set: id}, viewSet)
		}),
	}, nil
}

// ---- snapshot lists ----

// snapshotGroups lists <group>/ directories of the snapshots that match f.
func (r *Root) snapshotGroups(f catalog.SnapshotFilter, view byte) ([]entry, error) {
	snaps, err := r.snapshotNames(f)
	if err != nil {
		return nil, err
	}
	groups := map[string]bool{}
	for _, s := range snaps {
		groups[s.group] = true
	}
	var out []entry
	for g := range groups {
		gf := f
		gf.Group = g
		out = append(out, dirEntry(g, func(ctx context.Context) ([]entry, error) {
			snaps, err := r.snapshotNames(gf)
			if err != nil {
				return nil, err
			}
			var out []entry
			for _, s := range snaps {
				out = append(out, r.snapshotRoot(s, view))
			}
			return out, nil
		}))
	}
	return out, nil
}

// namedSnapshot is a snapshot with the name it shows under its group.
type namedSnapshot struct {
	catalog.Snapshot
	group, dirName string
}

// snapshotNames lists the snapshots matching f with their directory names:
// <time>, and when a pool holds the same snapshot name in several media
// sets, <time> for the one in the newest set and <time>@<set> (the set's
// directory name under media-sets/) for the others.
func (r *Root) snapshotNames(f catalog.SnapshotFilter) ([]namedSnapshot, error) {
	cat, err := r.eng.Catalog()
	if err != nil {
		return nil, err
	}
	snaps, err := cat.ListSnapshots(f)
	if err != nil {
		return nil, err
	}
	byName := map[string][]catalog.Snapshot{}
	for _, s := range snaps {
		byName[s.Name] = append(byName[s.Name], s)
	}
	var setNames map[uuid.UUID]string
	var out []namedSnapshot
	for _, s := range snaps {
		g := s.Group()
		ns := namedSnapshot{Snapshot: s, group: g, dirName: strings.TrimPrefix(s.Name, g+"/")}
		if dup := byName[s.Name]; len(dup) > 1 {
			if setNames == nil {
				setNames, err = r.setDirNames(s.Pool)
				if err != nil {
					return nil, err
				}
			}
			newest := dup[0]
			for _, d := range dup[1:] {
				if r.setCtime(cat, d.Set).After(r.setCtime(cat, newest.Set)) {
					newest = d
				}
			}
			if s.Set != newest.Set {
				ns.dirName += "@" + setNames[s.Set]
			}
		}
		out = append(out, ns)
	}
	return out, nil
}

func (r *Root) setCtime(cat *catalog.Catalog, id uuid.UUID) time.Time {
	s, err := cat.GetMediaSet(id)
	if err != nil {
		return time.Time{}
	}
	return s.Ctime
}

func (r *Root) setDirNames(pool string) (map[uuid.UUID]string, error) {
	dirs, err := r.setDirs(pool)
	if err != nil {
		return nil, err
	}
	out := make(map[uuid.UUID]string, len(dirs))
	for n, s := range dirs {
		out[s.UUID] = n
	}
	return out, nil
}

// snapshotRoot is the entry of a snapshot's root directory.
func (r *Root) snapshotRoot(s namedSnapshot, view byte) entry {
	cat, err := r.eng.Catalog()
	var id uint64
	if err == nil {
		id, err = cat.SnapshotID(s.Set, s.Name)
	}
	if err != nil {
		id = ino(s.Set.String()+"/"+s.Name, "")
	}
	return entry{name: s.dirName, mode: syscall.S_IFDIR, ino: (&snapTree{id: id, view: view}).inoAt("", 0), make: func(r *Root, p string) fs.InodeEmbedder {
		t := &snapTree{set: s.Set, name: s.Name, id: id, view: view}
		return r.newSnapNode(p, t, "", nil, t.inoAt("", 0))
	}}
}

// ---- snapshot nodes ----

// snapTree is one snapshot in one view, shared by its nodes.
type snapTree struct {
	set  uuid.UUID
	name string
	id   uint64
	view byte

	mu       sync.Mutex
	namesDir string   // the directory names lists
	names    []string // names of namesDir's children, in order
}

// snapNode is a file, directory, symlink or special file of a snapshot.
// Its attributes come from the catalog entry, never from tape; reading a
// regular file reads its chunks through the engine.
type snapNode struct {
	readOnly
	tree *snapTree
	sp   string // path in the snapshot ("" for its root)
	ino  uint64

	mu      sync.Mutex
	ent     *format.Entry // nil until loaded (a snapshot root starts without)
	entErr  error
	listing map[string]listed // children of the last Readdir, for its Lookups
}

func (r *Root) newSnapNode(p string, t *snapTree, sp string, ent *format.Entry, ino uint64) *snapNode {
	return &snapNode{readOnly: readOnly{root: r, path: p}, tree: t, sp: sp, ent: ent, ino: ino}
}

// entry returns the node's catalog entry, loading it on first use.
func (n *snapNode) entry() (*format.Entry, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ent == nil {
		ent, err := n.root.eng.SnapshotEntry(n.tree.set, n.tree.name, n.sp)
		if err != nil && n.sp == "" && errors.Is(err, catalog.ErrNotFound) {
			// A snapshot stored without a root entry: a plain directory.
			ent, err = format.Entry{Type: format.EntryDir, Mode: 0o555, UID: n.root.uid, GID: n.root.gid}, nil
		}
		if err != nil {
			return nil, n.root.errno("read "+n.show(), err)
		}
		n.ent = &ent
	}
	return n.ent, 0
}

func fileType(t format.EntryType) uint32 {
	switch t {
	case format.EntryDir:
		return syscall.S_IFDIR
	case format.EntrySymlink:
		return syscall.S_IFLNK
	case format.EntryCharDev:
		return syscall.S_IFCHR
	case format.EntryBlockDev:
		return syscall.S_IFBLK
	case format.EntryFIFO:
		return syscall.S_IFIFO
	case format.EntrySocket:
		return syscall.S_IFSOCK
	}
	return syscall.S_IFREG
}

// Inode numbers of snapshot entries. cp -a reads a directory's entries
// in inode order (gnulib's savedir sorts by inode to read fast), and a
// backup wrote them in name order, so the numbers of a directory's children
// grow in name order: the high 44 bits hash the snapshot id, view and the
// directory, the low 20 bits are the child's rank in the directory plus 1.
// cp then reads a snapshot in tape order. Ranks beyond 2^20-2 (huge
// directories) take a plain hash. Hard links carry the file's first name,
// so every name of an inode has the same number.
const rankBits = 20

// inoAt is the inode number of the entry at path p with rank rank among
// its siblings.
func (t *snapTree) inoAt(p string, rank int) uint64 {
	if p == "" || rank+1 >= 1<<rankBits {
		return snapIno(t.id, t.view, p)
	}
	dir, _ := splitPath(p)
	n := snapIno(t.id, t.view, "\x00dir:"+dir)&^(1<<rankBits-1) | uint64(rank+1)
	if n < 2 {
		n += 2
	}
	return n
}

func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// ino is the inode number of the entry at p: its rank comes from the
// directory listing, which the tree keeps for the last directory asked.
func (t *snapTree) ino(r *Root, p string) (uint64, error) {
	if p == "" {
		return t.inoAt("", 0), nil
	}
	dir, name := splitPath(p)
	t.mu.Lock()
	names, ok := t.names, t.namesDir == dir && t.names != nil
	t.mu.Unlock()
	if !ok {
		cat, err := r.eng.Catalog()
		if err != nil {
			return 0, err
		}
		names = names[:0:0]
		err = cat.ListTree(t.set, t.name, dir, func(te catalog.TreeEntry) error {
			_, n := splitPath(te.Path)
			names = append(names, n)
			return nil
		})
		if err != nil {
			return 0, err
		}
		t.mu.Lock()
		t.names, t.namesDir = names, dir
		t.mu.Unlock()
	}
	i := sort.SearchStrings(names, name)
	if i == len(names) || names[i] != name {
		return 0, fmt.Errorf("%s: %q is not in its directory: %w", t.name, p, catalog.ErrNotFound)
	}
	return t.inoAt(p, i), nil
}

func (n *snapNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	ent, errno := n.entry()
	if errno != 0 {
		return errno
	}
	if errno := n.fill(&out.Attr, ent); errno != 0 {
		return errno
	}
	out.SetTimeout(snapshotTimeout)
	return 0
}

func (n *snapNode) fill(a *fuse.Attr, ent *format.Entry) syscall.Errno {
	a.Ino = n.ino
	a.Mode = fileType(ent.Type) | ent.Mode
	a.Uid, a.Gid = ent.UID, ent.GID
	a.Size = uint64(ent.Size)
	a.Nlink = 1
	a.Rdev = uint32(ent.Rdev)
	a.Blksize = 1 << 20
	switch ent.Type {
	case format.EntrySymlink:
		a.Size = uint64(len(ent.Target))
	case format.EntryFile:
		var stored int64
		for _, c := range ent.Chunks {
			if !c.Zero {
				stored += int64(c.Size)
			}
		}
		// Blocks count the data on tape: holes and zero ranges take
		// none, as in the source, so cp and du see a sparse file.
		a.Blocks = uint64((stored + 511) / 512)
		counts, err := n.root.eng.SnapshotLinkCounts(n.tree.set, n.tree.name)
		if err != nil {
			return n.root.errno("read "+n.show(), err)
		}
		if c := counts[ent.Path]; c > 1 {
			a.Nlink = c
		}
	}
	mt, at, ct := ent.Mtime, ent.Atime, ent.Ctime
	a.SetTimes(&at, &mt, &ct)
	return 0
}

// child makes the node of child name with its entry and inode number and
// fills out.
func (n *snapNode) child(ctx context.Context, name string, ent *format.Entry, ino uint64, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	sp := join(n.sp, name)
	node := n.root.newSnapNode(join(n.path, name), n.tree, sp, ent, ino)
	if errno := node.fill(&out.Attr, ent); errno != 0 {
		return nil, errno
	}
	out.SetEntryTimeout(snapshotTimeout)
	out.SetAttrTimeout(snapshotTimeout)
	return n.NewInode(ctx, node, fs.StableAttr{Mode: fileType(ent.Type), Ino: ino}), 0
}

// listed is a child from the last Readdir.
type listed struct {
	ent *format.Entry
	ino uint64
}

func (n *snapNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	n.mu.Lock()
	l, ok := n.listing[name]
	delete(n.listing, name)
	n.mu.Unlock()
	if !ok {
		p := join(n.sp, name)
		e, err := n.root.eng.SnapshotEntry(n.tree.set, n.tree.name, p)
		if err != nil {
			return nil, n.root.errno("lookup "+join(n.path, name), err)
		}
		ino, err := n.tree.ino(n.root, e.Path)
		if err != nil {
			return nil, n.root.errno("lookup "+join(n.path, name), err)
		}
		l = listed{ent: &e, ino: ino}
	}
	return n.child(ctx, name, l.ent, l.ino, out)
}

func (n *snapNode) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	list, err := n.root.eng.ListSnapshotDir(n.tree.set, n.tree.name, n.sp)
	if err != nil {
		return nil, n.root.errno("list "+n.show(), err)
	}
	out := make([]fuse.DirEntry, 0, len(list))
	// The kernel looks up what it lists (readdirplus, ls -l, find):
	// keep the decoded entries for those lookups.
	listing := make(map[string]listed, len(list))
	for i := range list {
		ent := &list[i].Entry
		ino := n.tree.inoAt(join(n.sp, list[i].Name), i)
		if ent.Path != join(n.sp, list[i].Name) {
			// A hard link: the number of the file's first name.
			if ino, err = n.tree.ino(n.root, ent.Path); err != nil {
				return nil, n.root.errno("list "+n.show(), err)
			}
		}
		listing[list[i].Name] = listed{ent: ent, ino: ino}
		out = append(out, fuse.DirEntry{Name: list[i].Name, Mode: fileType(ent.Type), Ino: ino})
	}
	n.mu.Lock()
	n.listing = listing
	n.mu.Unlock()
	return fs.NewListDirStream(out), 0
}

func (n *snapNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	ent, errno := n.entry()
	if errno != 0 {
		return nil, errno
	}
	if ent.Type != format.EntrySymlink {
		return nil, syscall.EINVAL
	}
	return []byte(ent.Target), 0
}

func (n *snapNode) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	out.NameLen = 255
	out.Bsize = 4096
	out.Frsize = 4096
	return 0
}

// snapHandle is an open snapshot file.
type snapHandle struct{ f *engine.SnapshotFile }

// Open opens a regular file for reading. FOPEN_KEEP_CACHE: the content of
// a snapshot file never changes, so the kernel may keep the pages it read
// across opens; a second cp or cat of a file is then served without the
// daemon or the tape.
func (n *snapNode) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	ent, errno := n.entry()
	if errno != 0 {
		return nil, 0, errno
	}
	if ent.Type != format.EntryFile {
		return nil, 0, syscall.EINVAL
	}
	f, err := n.root.eng.OpenSnapshotFile(ctx, n.tree.set, n.tree.name, ent.Path)
	if err != nil {
		return nil, 0, n.root.errno("open "+n.show(), err)
	}
	return &snapHandle{f: f}, fuse.FOPEN_KEEP_CACHE, 0
}

// Read reads from tape through the engine (cache, or a wait for the set's
// reader). An interrupted read returns EINTR; the tape work goes on.
func (n *snapNode) Read(ctx context.Context, fh fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	h, ok := fh.(*snapHandle)
	if !ok {
		return nil, syscall.EBADF
	}
	k, err := h.f.ReadAt(ctx, dest, off)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, n.root.errno("read "+n.show(), err)
	}
	return fuse.ReadResultData(dest[:k]), 0
}

func (n *snapNode) Release(ctx context.Context, fh fs.FileHandle) syscall.Errno {
	if h, ok := fh.(*snapHandle); ok {
		h.f.Close()
	}
	return 0
}

// tapeXattr returns a tapefs position attribute of the node (ENODATA for
// a file without data on tape and for other node types).
func (n *snapNode) tapeXattr(name string) ([]byte, syscall.Errno) {
	ent, errno := n.entry()
	if errno != 0 {
		return nil, errno
	}
	pos, err := n.root.eng.FilePosition(n.tree.set, ent)
	if errors.Is(err, engine.ErrNoTapeData) {
		return nil, syscall.ENODATA
	}
	if err != nil {
		return nil, n.root.errno("xattr "+n.show(), err)
	}
	switch name {
	case xattrMedia:
		return []byte(pos.Label), 0
	case xattrSet:
		return []byte(n.tree.set.String()), 0
	case xattrFile:
		return []byte(strconv.FormatUint(pos.File, 10)), 0
	case xattrOffset:
		return []byte(strconv.FormatInt(pos.Offset, 10)), 0
	case xattrStartBlock:
		return []byte(strconv.FormatUint(startBlock(pos), 10)), 0
	case xattrPartition:
		return []byte("b"), 0
	}
	return nil, syscall.ENODATA
}

// startBlock is the sort key that user.ltfs.startblock shows: the tape's
// sequence number in its set, the tape file and the record in it, packed
// so that numbers grow in tape order (set sequence 16 bits, file 20 bits,
// record 28 bits). It is not a SCSI logical block address; ordering tools
// only compare it.
func startBlock(p engine.TapePosition) uint64 {
	return p.Seq<<48 | (p.File&(1<<20-1))<<28 | p.Record&(1<<28-1)
}

func (n *snapNode) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	var val []byte
	switch attr {
	case xattrMedia, xattrSet, xattrFile, xattrOffset, xattrStartBlock, xattrPartition:
		v, errno := n.tapeXattr(attr)
		if errno != 0 {
			return 0, errno
		}
		val = v
	default:
		ent, errno := n.entry()
		if errno != 0 {
			return 0, errno
		}
		v, ok := ent.Xattrs[attr]
		if !ok {
			return 0, syscall.ENODATA
		}
		val = v
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

func (n *snapNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	ent, errno := n.entry()
	if errno != 0 {
		return 0, errno
	}
	names := make([]string, 0, len(ent.Xattrs)+len(listedTapeXattrs))
	for k := range ent.Xattrs {
		names = append(names, k)
	}
	sort.Strings(names)
	if _, err := n.root.eng.FilePosition(n.tree.set, ent); err == nil {
		names = append(names, listedTapeXattrs...)
	}
	var b bytes.Buffer
	for _, k := range names {
		b.WriteString(k)
		b.WriteByte(0)
	}
	if len(dest) < b.Len() {
		return uint32(b.Len()), syscall.ERANGE
	}
	return uint32(copy(dest, b.Bytes())), 0
}
