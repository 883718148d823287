package fusefs

import (
	"bytes"
	"container/list"
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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"tapefs/engine"
)

// snapshotTimeout is the kernel's entry and attribute cache time for
// snapshot nodes. A snapshot never changes; it can only disappear with its
// media set, and then reads fail with ENOENT until the entries expire.
const snapshotTimeout = time.Hour

// Extended attributes that tapefs adds to snapshot files with data on
// tape. They are answered by name only and never listed, as LTFS does with
// its virtual attributes: a copy out of the mount (cp -a, rsync -X) does
// not carry them, and tools that sort reads by tape position ask for
// user.ltfs.startblock by name.
const (
	xattrMedia      = "user.tapefs.media"
	xattrSet        = "user.tapefs.set"
	xattrFile       = "user.tapefs.file"
	xattrOffset     = "user.tapefs.offset"
	xattrStartBlock = "user.ltfs.startblock"
	xattrPartition  = "user.ltfs.partition"
)

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
func (r *Root) setDirs(pool string) (map[string]engine.MediaSet, error) {
	sets, err := r.eng.ListMediaSets(pool)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	names := make([]string, len(sets))
	for i, s := range sets {
		names[i] = r.eng.MediaSetName(s)
		count[names[i]]++
	}
	out := make(map[string]engine.MediaSet, len(sets))
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
	e := cachedDirEntry("media-sets", pathCacheTimeout, func(ctx context.Context) ([]entry, error) { return r.mediaSetsEntries(pool) })
	e.make = func(r *Root, p string) fs.InodeEmbedder {
		return &setsDir{dir: dir{readOnly: readOnly{root: r, path: p}, list: func(ctx context.Context) ([]entry, error) { return r.mediaSetsEntries(pool) }, cache: pathCacheTimeout}, pool: pool}
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
	if s, err := n.root.eng.GetMediaSet(id); err != nil || s.Pool != n.pool {
		if err != nil && engine.KindOf(err) != engine.KindNotFound {
			return nil, n.root.errno("lookup "+join(n.path, name), err)
		}
		return nil, syscall.ENOENT
	}
	e := n.root.mediaSetEntry(name, id)
	p := join(n.path, name)
	node := e.make(n.root, p)
	var ao fuse.AttrOut
	node.(*dir).Getattr(ctx, nil, &ao)
	out.Attr = ao.Attr
	out.SetAttrTimeout(ao.Timeout())
	out.SetEntryTimeout(ao.Timeout())
	return n.NewInode(ctx, node, fs.StableAttr{Mode: e.mode, Ino: e.inode(n.path)}), 0
}

func (r *Root) mediaSetEntry(name string, id uuid.UUID) entry {
	return cachedDirEntry(name, pathCacheTimeout, func(ctx context.Context) ([]entry, error) { return r.mediaSetContent(id) })
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
	s, err := r.eng.GetMediaSet(id)
	if err != nil {
		return nil, err
	}
	mi := &MediaSetInfo{UUID: s.UUID.String(), Name: r.eng.MediaSetName(s), Pool: s.Pool, Ctime: s.Ctime,
		Closed: s.Closed, LastWrite: s.LastWrite, Media: []string{}, Snapshots: []string{}}
	for _, m := range s.Media {
		label := m.String()
		if mm, err := r.eng.GetMedia(m); err == nil {
			label = mm.LabelText
		}
		mi.Media = append(mi.Media, label)
	}
	snaps, err := r.eng.ListSnapshots(engine.SnapshotFilter{Set: id})
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
		cachedDirEntry("snapshots", pathCacheTimeout, func(ctx context.Context) ([]entry, error) {
			return r.snapshotGroups(engine.SnapshotFilter{Set: id}, viewSet)
		}),
	}, nil
}

// ---- snapshot lists ----

// snapshotGroups lists <group>/ directories of the snapshots that match f.
func (r *Root) snapshotGroups(f engine.SnapshotFilter, view byte) ([]entry, error) {
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
		out = append(out, cachedDirEntry(g, pathCacheTimeout, func(ctx context.Context) ([]entry, error) {
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
	engine.Snapshot
	group, dirName string
}

// snapshotNames lists the snapshots matching f with their directory names:
// <time>, and when a pool holds the same snapshot name in several media
// sets, <time> for the one in the newest set and <time>@<set> (the set's
// directory name under media-sets/) for the others.
func (r *Root) snapshotNames(f engine.SnapshotFilter) ([]namedSnapshot, error) {
	snaps, err := r.eng.ListSnapshots(f)
	if err != nil {
		return nil, err
	}
	byName := map[string][]engine.Snapshot{}
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
				if r.setCtime(d.Set).After(r.setCtime(newest.Set)) {
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

func (r *Root) setCtime(id uuid.UUID) time.Time {
	s, err := r.eng.GetMediaSet(id)
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
	id, err := r.eng.SnapshotID(s.Set, s.Name)
	if err != nil {
		id = ino(s.Set.String()+"/"+s.Name, "")
	}
	return entry{name: s.dirName, mode: syscall.S_IFDIR, ino: (&snapTree{id: id, view: view}).inoAt("", 0), make: func(r *Root, p string) fs.InodeEmbedder {
		t := &snapTree{set: s.Set, name: s.Name, id: id, view: view}
		return r.newSnapNode(p, t, "", t.inoAt("", 0))
	}}
}

// ---- snapshot nodes ----

// snapTree is one snapshot in one view, shared by its nodes.
//
// Listings hand the kernel a node for every directory, and for other
// entries only while a walker stats what it lists: a node costs go-fuse
// and the kernel some 700 bytes and a third of a find's time, and find
// (and ls, du of directories, tar's name scan) only needs the names and
// types. A walker that stats (ls -l, du, find -printf, cp -a, rsync) sends
// a LOOKUP for each entry listed without a node; after statAfterLookups of
// them, listings of the tree carry nodes again for statFor, renewed by
// every statAfterLookups further lookups.
type snapTree struct {
	set  uuid.UUID
	name string
	id   uint64
	view byte

	lookups   atomic.Uint32 // LOOKUPs of entries that are not directories
	statUntil atomic.Int64  // listings carry nodes until then (Unix ns)
}

const (
	statAfterLookups = 32
	statFor          = 10 * time.Second
)

// looked counts a LOOKUP of an entry that is not a directory.
func (t *snapTree) looked() {
	if t.lookups.Add(1)%statAfterLookups == 0 {
		t.statUntil.Store(time.Now().Add(statFor).UnixNano())
	}
}

// statting reports whether listings carry nodes for every entry.
func (t *snapTree) statting() bool {
	return time.Now().UnixNano() < t.statUntil.Load()
}

// snapNode is a file, directory, symlink or special file of a snapshot.
// Its attributes come from the catalog entry, never from tape; reading a
// regular file reads its chunks through the engine.
//
// A find over a snapshot makes a node for every entry (READDIRPLUS), so a
// node is kept small: its attributes are the listing's entry, shared, not
// a copy, and only a snapshot's root node stores its path in the mount
// (show computes the others' for messages).
type snapNode struct {
	readOnly
	tree *snapTree
	sp   string // path in the snapshot ("" for its root)
	ino  uint64

	mu  sync.Mutex
	de  *engine.SnapshotDirEntry // attributes; a snapshot root loads them on first use
	ent *engine.Entry            // the whole entry, loaded for xattrs on first use
}

func (r *Root) newSnapNode(p string, t *snapTree, sp string, ino uint64) *snapNode {
	return &snapNode{readOnly: readOnly{root: r, path: p}, tree: t, sp: sp, ino: ino}
}

// show is the node's path in the mount, for messages.
func (n *snapNode) show() string {
	if n.path != "" {
		return n.path
	}
	return n.Path(nil)
}

// entry returns the node's whole catalog entry, loading it on first use.
func (n *snapNode) entry() (*engine.Entry, syscall.Errno) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ent == nil {
		ent, err := n.root.eng.SnapshotEntry(n.tree.set, n.tree.name, n.sp)
		if err != nil && n.sp == "" && engine.KindOf(err) == engine.KindNotFound {
			// A snapshot stored without a root entry: a plain directory.
			ent, err = engine.Entry{Type: engine.EntryDir, Mode: 0o555, UID: n.root.uid, GID: n.root.gid}, nil
		}
		if err != nil {
			return nil, n.root.errno("read "+n.show(), err)
		}
		n.ent = &ent
	}
	return n.ent, 0
}

// attrs returns the node's listing entry: from the listing that made the
// node, else made from its whole entry. It never changes once set.
func (n *snapNode) attrs() (*engine.SnapshotDirEntry, syscall.Errno) {
	n.mu.Lock()
	de := n.de
	n.mu.Unlock()
	if de != nil {
		return de, 0
	}
	ent, errno := n.entry()
	if errno != 0 {
		return nil, errno
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.de == nil {
		n.de = &engine.SnapshotDirEntry{Path: n.sp, Attr: entryAttr(ent), Links: 1}
	}
	return n.de, 0
}

// entryAttr is the listing's view of a whole entry.
func entryAttr(e *engine.Entry) engine.EntryAttr {
	a := engine.EntryAttr{Type: e.Type, Mode: e.Mode, UID: e.UID, GID: e.GID, Size: e.Size,
		Mtime: e.Mtime, Atime: e.Atime, Ctime: e.Ctime, Rdev: e.Rdev, Target: e.Target, Xattrs: len(e.Xattrs)}
	for _, c := range e.Chunks {
		if !c.Zero {
			a.Stored += int64(c.Size)
		}
	}
	return a
}

func fileType(t engine.EntryType) uint32 {
	switch t {
	case engine.EntryDir:
		return syscall.S_IFDIR
	case engine.EntrySymlink:
		return syscall.S_IFLNK
	case engine.EntryCharDev:
		return syscall.S_IFCHR
	case engine.EntryBlockDev:
		return syscall.S_IFBLK
	case engine.EntryFIFO:
		return syscall.S_IFIFO
	case engine.EntrySocket:
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
	if p == "" {
		return snapIno(t.id, t.view, p)
	}
	dir, _ := splitPath(p)
	return t.inoRank(t.dirBase(dir), p, rank)
}

// dirBase is the high bits of the inode numbers of dir's children.
func (t *snapTree) dirBase(dir string) uint64 {
	return snapIno(t.id, t.view, "\x00dir:"+dir) &^ (1<<rankBits - 1)
}

// inoRank is inoAt with the directory's base (dirBase) already known.
func (t *snapTree) inoRank(base uint64, p string, rank int) uint64 {
	if rank+1 >= 1<<rankBits {
		return snapIno(t.id, t.view, p)
	}
	n := base | uint64(rank+1)
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

// inoOf is the inode number of the entry at p (a hard link's first name):
// its rank comes from the cached listing of its directory, or from one
// scan of the directory's names.
func (r *Root) inoOf(t *snapTree, p string) (uint64, error) {
	dir, name := splitPath(p)
	if l := r.listings.get(listingKey{t.set, t.name, t.view, dir}); l != nil {
		if i, ok := l.find(name); ok {
			return l.inos[i], nil
		}
		return 0, fmt.Errorf("%s: %q is not in its directory: %w", t.name, p, engine.ErrNotFound)
	}
	rank, err := r.eng.SnapshotDirRank(t.set, t.name, p)
	if err != nil {
		return 0, err
	}
	return t.inoAt(p, rank), nil
}

// dirListing is a decoded snapshot directory: its entries in name order
// (an entry's rank is its index) and their inode numbers.
type dirListing struct {
	ents []engine.SnapshotDirEntry
	inos []uint64
}

func (l *dirListing) find(name string) (int, bool) {
	i := sort.Search(len(l.ents), func(i int) bool { return l.ents[i].Name >= name })
	return i, i < len(l.ents) && l.ents[i].Name == name
}

// listing returns the decoded directory dir of t, from the listing cache
// or the catalog (one prefix scan).
func (r *Root) listing(t *snapTree, dir string) (*dirListing, error) {
	key := listingKey{t.set, t.name, t.view, dir}
	l := r.listings.get(key)
	if l == nil {
		var err error
		if l, err = r.loadListing(t, dir); err != nil {
			return nil, err
		}
	}
	return l, nil
}

// loadListing reads directory dir of t from the catalog into the listing
// cache.
func (r *Root) loadListing(t *snapTree, dir string) (*dirListing, error) {
	key := listingKey{t.set, t.name, t.view, dir}
	ents, err := r.eng.ListSnapshotDir(t.set, t.name, dir)
	if err != nil {
		return nil, err
	}
	l := &dirListing{ents: ents, inos: make([]uint64, len(ents))}
	base := t.dirBase(dir)
	for i := range ents {
		e := &ents[i]
		if own := ownPath(dir, e); own {
			l.inos[i] = t.inoRank(base, e.Path, i)
			continue
		}
		// A hard link: the number of the file's first name.
		if l.inos[i], err = r.inoOf(t, e.Path); err != nil {
			return nil, err
		}
	}
	r.listings.put(key, l)
	return l, nil
}

// ownPath reports whether e.Path is dir/e.Name (not a hard link's target).
func ownPath(dir string, e *engine.SnapshotDirEntry) bool {
	if dir == "" {
		return e.Path == e.Name
	}
	return len(e.Path) == len(dir)+1+len(e.Name) && strings.HasPrefix(e.Path, dir) && e.Path[len(dir)] == '/' && strings.HasSuffix(e.Path, e.Name)
}

func (n *snapNode) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	de, errno := n.attrs()
	if errno != 0 {
		return errno
	}
	n.fill(&out.Attr, de)
	out.SetTimeout(snapshotTimeout)
	return 0
}

// fill sets the attributes of the node with listing entry de.
func (n *snapNode) fill(a *fuse.Attr, de *engine.SnapshotDirEntry) {
	ea := &de.Attr
	a.Ino = n.ino
	a.Mode = fileType(ea.Type) | ea.Mode
	a.Uid, a.Gid = ea.UID, ea.GID
	a.Size = uint64(ea.Size)
	a.Nlink = 1
	if ea.Type != engine.EntryDir {
		// Any node but a directory may have several names.
		a.Nlink = max(1, de.Links)
	}
	a.Rdev = uint32(ea.Rdev)
	a.Blksize = 1 << 20
	switch ea.Type {
	case engine.EntrySymlink:
		a.Size = uint64(len(ea.Target))
	case engine.EntryFile:
		// Blocks count the data on tape: holes and zero ranges take
		// none, as in the source, so cp and du see a sparse file.
		a.Blocks = uint64((ea.Stored + 511) / 512)
	}
	a.Mtime, a.Mtimensec = uint64(ea.Mtime.Unix()), uint32(ea.Mtime.Nanosecond())
	a.Atime, a.Atimensec = uint64(ea.Atime.Unix()), uint32(ea.Atime.Nanosecond())
	a.Ctime, a.Ctimensec = uint64(ea.Ctime.Unix()), uint32(ea.Ctime.Nanosecond())
}

// child makes the node of the listed entry e with inode number ino and
// fills out.
func (n *snapNode) child(ctx context.Context, e *engine.SnapshotDirEntry, ino uint64, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	sp := e.Path
	if !ownPath(n.sp, e) {
		sp = join(n.sp, e.Name)
	}
	out.SetEntryTimeout(snapshotTimeout)
	out.SetAttrTimeout(snapshotTimeout)
	if c := n.GetChild(e.Name); c != nil {
		if cn, ok := c.Operations().(*snapNode); ok && cn.ino == ino {
			// Still known (a second listing while the kernel keeps the
			// entry): go-fuse would keep the old node in any case.
			cn.fill(&out.Attr, e)
			return c, 0
		}
	}
	node := &snapNode{readOnly: readOnly{root: n.root}, tree: n.tree, sp: sp, ino: ino, de: e}
	node.fill(&out.Attr, e)
	in := n.NewInode(ctx, node, fs.StableAttr{Mode: fileType(e.Attr.Type), Ino: ino})
	n.root.pruner.add(in)
	return in, 0
}

func (n *snapNode) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return n.lookup(ctx, name, out, true)
}

// lookup finds name in the directory's listing and makes its node. A
// LOOKUP from the kernel (counted) of an entry that is not a directory
// counts toward snapTree.statting.
func (n *snapNode) lookup(ctx context.Context, name string, out *fuse.EntryOut, counted bool) (*fs.Inode, syscall.Errno) {
	l, err := n.root.listing(n.tree, n.sp)
	if err != nil {
		return nil, n.root.errno("lookup "+join(n.show(), name), err)
	}
	i, ok := l.find(name)
	if !ok {
		return nil, syscall.ENOENT
	}
	if counted && l.ents[i].Attr.Type != engine.EntryDir {
		n.tree.looked()
	}
	return n.child(ctx, &l.ents[i], l.inos[i], out)
}

// OpendirHandle opens a directory with FOPEN_CACHE_DIR and
// FOPEN_KEEP_CACHE: a snapshot directory never changes, so the kernel
// keeps its listing across opens, and a second find or ls is served
// without the daemon. The listing is read on the first READDIR, not here:
// an open whose entries the kernel has cached needs none.
func (n *snapNode) OpendirHandle(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	de, errno := n.attrs()
	if errno != 0 {
		return nil, 0, errno
	}
	a := &de.Attr
	if a.Type != engine.EntryDir {
		return nil, 0, syscall.ENOTDIR
	}
	return &snapDirHandle{n: n}, fuse.FOPEN_CACHE_DIR | fuse.FOPEN_KEEP_CACHE, 0
}

// snapDirHandle is an open snapshot directory: it streams the listing and
// answers the lookups of READDIRPLUS from it. The bridge serializes the
// calls on one handle.
type snapDirHandle struct {
	n  *snapNode
	l  *dirListing // loaded by load
	i  int         // index of the next entry
	de fuse.DirEntry
}

// load reads the listing on first use.
func (h *snapDirHandle) load() syscall.Errno {
	if h.l != nil {
		return 0
	}
	l, err := h.n.root.listing(h.n.tree, h.n.sp)
	if err != nil {
		return h.n.root.errno("list "+h.n.show(), err)
	}
	h.n.root.asked(h.n.tree, h.n.sp, l)
	h.l = l
	return 0
}

func (h *snapDirHandle) Readdirent(ctx context.Context) (*fuse.DirEntry, syscall.Errno) {
	if errno := h.load(); errno != 0 {
		return nil, errno
	}
	if h.i >= len(h.l.ents) {
		return nil, 0
	}
	e := &h.l.ents[h.i]
	h.i++
	// The bridge copies the entry before the next call.
	h.de = fuse.DirEntry{Name: e.Name, Mode: fileType(e.Attr.Type), Ino: h.l.inos[h.i-1], Off: uint64(h.i)}
	return &h.de, 0
}

func (h *snapDirHandle) Seekdir(ctx context.Context, off uint64) syscall.Errno {
	if errno := h.load(); errno != 0 {
		return errno
	}
	h.i = int(min(off, uint64(len(h.l.ents))))
	return 0
}

// Lookup answers READDIRPLUS for the entry Readdirent just returned.
func (h *snapDirHandle) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if i := h.i - 1; h.l != nil && i >= 0 && i < len(h.l.ents) && h.l.ents[i].Name == name {
		if h.l.ents[i].Attr.Type != engine.EntryDir && !h.n.tree.statting() {
			// No node: the kernel lists the name without an entry
			// (a zero node ID in READDIRPLUS), see snapTree.
			return nil, syscall.ENOENT
		}
		return h.n.child(ctx, &h.l.ents[i], h.l.inos[i], out)
	}
	return h.n.lookup(ctx, name, out, false)
}

// maxListedEntries bounds the entries of the decoded directory listings
// the daemon keeps (about 250 bytes each).
const maxListedEntries = 1 << 17

type listingKey struct {
	set  uuid.UUID
	snap string
	view byte
	dir  string
}

// listingCache keeps decoded snapshot directories, least recently used
// out first beyond maxListedEntries (the last one added always stays).
// Safe for concurrent use; its zero value is ready.
type listingCache struct {
	mu      sync.Mutex
	entries int
	lru     list.List
	items   map[listingKey]*list.Element
}

type listingItem struct {
	key listingKey
	l   *dirListing
}

func (c *listingCache) get(k listingKey) *dirListing {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.lru.MoveToFront(el)
	return el.Value.(*listingItem).l
}

func (c *listingCache) put(k listingKey, l *dirListing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.items == nil {
		c.items = map[listingKey]*list.Element{}
	}
	if _, ok := c.items[k]; ok {
		return
	}
	c.items[k] = c.lru.PushFront(&listingItem{key: k, l: l})
	c.entries += len(l.ents)
	for c.entries > maxListedEntries && c.lru.Len() > 1 {
		old := c.lru.Remove(c.lru.Back()).(*listingItem)
		delete(c.items, old.key)
		c.entries -= len(old.l.ents)
	}
}

func (n *snapNode) Readlink(ctx context.Context) ([]byte, syscall.Errno) {
	de, errno := n.attrs()
	if errno != 0 {
		return nil, errno
	}
	a := &de.Attr
	if a.Type != engine.EntrySymlink {
		return nil, syscall.EINVAL
	}
	return []byte(a.Target), 0
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
	de, errno := n.attrs()
	if errno != 0 {
		return nil, 0, errno
	}
	a := &de.Attr
	if a.Type != engine.EntryFile {
		return nil, 0, syscall.EINVAL
	}
	f, err := n.root.eng.OpenSnapshotFile(ctx, n.tree.set, n.tree.name, de.Path)
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
		de, errno := n.attrs()
		if errno != 0 {
			return 0, errno
		}
		if de.Attr.Xattrs == 0 {
			// Answered from the listing, without the whole entry.
			return 0, noXattr(attr)
		}
		ent, errno := n.entry()
		if errno != 0 {
			return 0, errno
		}
		v, ok := ent.Xattrs[attr]
		if !ok {
			return 0, noXattr(attr)
		}
		val = v
	}
	if len(dest) < len(val) {
		return uint32(len(val)), syscall.ERANGE
	}
	return uint32(copy(dest, val)), 0
}

// noXattr is the answer for an attribute the entry does not have:
// ENODATA, and EOPNOTSUPP for a security label (security.*) as from a
// filesystem without them. ls -l asks for security.selinux and
// system.posix_acl_access of every entry it lists (three requests per
// entry with the stat, which the kernel does not cache for FUSE), and
// stops asking for the label on a filesystem that answered EOPNOTSUPP
// once. ACLs keep ENODATA: getfacl shows a file's mode as its ACL then,
// and fails on EOPNOTSUPP. The kernel treats an EOPNOTSUPP of
// security.capability as no capabilities. A label the snapshot stored is
// answered as any other attribute (a kernel with an LSM answers
// security.selinux itself and never asks).
func noXattr(attr string) syscall.Errno {
	if strings.HasPrefix(attr, "security.") {
		return syscall.EOPNOTSUPP
	}
	return syscall.ENODATA
}

// Listxattr lists the file's own attributes. The tape attributes are
// virtual and left out, and so is a file's own copy of one of their names
// (cp -a of a snapshot into incoming/ copied them before they were
// virtual): Getxattr answers those names from the tape.
func (n *snapNode) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	if de, errno := n.attrs(); errno != 0 || de.Attr.Xattrs == 0 {
		return 0, errno
	}
	ent, errno := n.entry()
	if errno != 0 {
		return 0, errno
	}
	names := make([]string, 0, len(ent.Xattrs))
	for k := range ent.Xattrs {
		switch k {
		case xattrMedia, xattrSet, xattrFile, xattrOffset, xattrStartBlock, xattrPartition:
			continue
		}
		names = append(names, k)
	}
	sort.Strings(names)
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
