// The store's file operations, one per FUSE call (create, write, rename,
// ...). Over 600 lines: each is short and independent, and they share one
// locking rule (Store.mu) and one journal discipline, which are easier to
// check side by side than spread over several files.

package staging

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"tapefs/engine/format"
)

// Errors of the mutating operations are syscall.Errno values (ENOENT,
// EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENAMETOOLONG for a name longer than
// format.MaxNameLen or a path longer than format.MaxPathLen below its
// group, EINVAL for other names a snapshot cannot hold, ENOSPC when the
// staging filesystem is full) or wrapped I/O errors.

// Make creates a node called name in directory parent: a directory, a
// regular file (marked as being written until its first Flush when
// writing is true), a symlink to target, or a device node or FIFO (rdev).
// mode holds the file type and permission bits.
func (s *Store) Make(parent ID, name string, mode, uid, gid uint32, rdev uint64, target string, writing bool) (Attr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, f, err := s.makeLocked(parent, name, mode, uid, gid, rdev, target, writing)
	if f != nil {
		f.Close()
	}
	return a, err
}

// Create creates the regular file name in directory parent, as open(2)
// with O_CREAT|O_EXCL does, and returns it open: it is being written
// until its first Flush, so a crash before that removes it; its data is
// kept in memory and packed at the Flush while it stays small (pack.go).
// mode holds the permission bits. Errors as Make.
func (s *Store) Create(parent ID, name string, mode, uid, gid uint32) (Attr, *File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, f, err := s.makeLocked(parent, name, syscall.S_IFREG|mode&0o7777, uid, gid, 0, "", true)
	if err != nil {
		return a, nil, err
	}
	n := s.nodes[a.ID]
	n.open++
	n.writers++
	fh := &File{s: s, id: a.ID, f: f, writer: true}
	fh.begin(n)
	return a, fh, nil
}

// makeLocked is Make; for a regular file that is not being written it
// also returns the data file, open (a file being written starts in
// memory). The records of a file created for writing are held back (see
// holdBack): until its first Flush a crash removes the file anyway.
func (s *Store) makeLocked(parent ID, name string, mode, uid, gid uint32, rdev uint64, target string, writing bool) (Attr, *os.File, error) {
	p, err := s.getDir(parent)
	if err != nil {
		return Attr{}, nil, err
	}
	if _, ok := p.children[name]; ok {
		return Attr{}, nil, syscall.EEXIST
	}
	typ := mode & syscall.S_IFMT
	if typ == 0 {
		typ = syscall.S_IFREG
	}
	switch typ {
	case syscall.S_IFDIR, syscall.S_IFREG, syscall.S_IFLNK, syscall.S_IFCHR, syscall.S_IFBLK, syscall.S_IFIFO, syscall.S_IFSOCK:
	default:
		return Attr{}, nil, syscall.EINVAL
	}
	if err := s.checkName(p, name, typ == syscall.S_IFDIR, 0); err != nil {
		return Attr{}, nil, err
	}
	if p.Mode&syscall.S_ISGID != 0 {
		// BSD group semantics of a setgid directory, as Linux filesystems.
		gid = p.GID
		if typ == syscall.S_IFDIR {
			mode |= syscall.S_ISGID
		}
	}
	id := s.next
	dirty := typ == syscall.S_IFREG && writing
	var f *os.File
	if typ == syscall.S_IFREG && !dirty {
		if f, err = s.createData(id); err != nil {
			return Attr{}, nil, err
		}
	}
	now := stampOf(s.opts.Now())
	meta := nodeMeta{ID: id, Mode: typ | mode&0o7777, UID: uid, GID: gid, Rdev: rdev,
		Atime: now, Mtime: now, Ctime: now, Target: target, Dirty: dirty}
	recs := []record{{op: opNode, node: meta}, {op: opLink, parent: parent, name: name, id: id}, {op: opNode, node: changed(p, now)}}
	if dirty {
		err = s.holdBack(recs...)
	} else {
		err = s.journal(recs...)
	}
	if err != nil {
		if f != nil {
			f.Close()
			os.Remove(s.dataPath(id))
		}
		return Attr{}, nil, err
	}
	n := s.nodes[id]
	n.inMem = dirty
	return s.attr(n), f, nil
}

// MakeTmp creates a regular file with no name in directory parent, as
// open(2) with O_TMPFILE does, and opens it: it is being written until
// its first Flush. Link gives it a name; closed without one it is gone,
// and at the next Open it is gone in any case (a crash never leaves it).
func (s *Store) MakeTmp(parent ID, mode, uid, gid uint32) (Attr, *File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getDir(parent)
	if err != nil {
		return Attr{}, nil, err
	}
	if p.Mode&syscall.S_ISGID != 0 {
		gid = p.GID
	}
	id := s.next
	now := stampOf(s.opts.Now())
	meta := nodeMeta{ID: id, Mode: syscall.S_IFREG | mode&0o7777, UID: uid, GID: gid,
		Atime: now, Mtime: now, Ctime: now, Dirty: true}
	f, err := s.createData(id)
	if err != nil {
		return Attr{}, nil, err
	}
	if err := s.holdBack(record{op: opNode, node: meta}); err != nil {
		f.Close()
		os.Remove(s.dataPath(id))
		return Attr{}, nil, err
	}
	n := s.nodes[id]
	n.open++
	n.writers++
	fh := &File{s: s, id: id, f: f, writer: true}
	fh.begin(n)
	return s.attr(n), fh, nil
}

// Link adds the name newName in directory newParent for the existing
// non-directory id.
func (s *Store) Link(id, newParent ID, newName string) (Attr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return Attr{}, err
	}
	if n.isDir() {
		return Attr{}, syscall.EPERM
	}
	p, err := s.getDir(newParent)
	if err != nil {
		return Attr{}, err
	}
	if _, ok := p.children[newName]; ok {
		return Attr{}, syscall.EEXIST
	}
	if err := s.checkName(p, newName, false, 0); err != nil {
		return Attr{}, err
	}
	now := stampOf(s.opts.Now())
	nm := n.nodeMeta
	nm.Ctime = now
	if err := s.journal(record{op: opLink, parent: newParent, name: newName, id: id}, record{op: opNode, node: nm}, record{op: opNode, node: changed(p, now)}); err != nil {
		return Attr{}, err
	}
	return s.attr(n), nil
}

// Unlink removes the non-directory name from directory parent.
func (s *Store) Unlink(parent ID, name string) error { return s.remove(parent, name, false) }

// Rmdir removes the empty directory name from directory parent.
func (s *Store) Rmdir(parent ID, name string) error { return s.remove(parent, name, true) }

func (s *Store) remove(parent ID, name string, dir bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, err := s.getDir(parent)
	if err != nil {
		return err
	}
	id, ok := p.children[name]
	if !ok {
		return syscall.ENOENT
	}
	c := s.nodes[id]
	switch {
	case dir && !c.isDir():
		return syscall.ENOTDIR
	case !dir && c.isDir():
		return syscall.EISDIR
	case dir && len(c.children) > 0:
		return syscall.ENOTEMPTY
	}
	now := stampOf(s.opts.Now())
	recs := []record{{op: opUnlink, parent: parent, name: name}, {op: opNode, node: changed(p, now)}}
	if !dir && c.nlink > 1 {
		cm := c.nodeMeta
		cm.Ctime = now
		recs = append(recs, record{op: opNode, node: cm})
	}
	if err := s.journal(recs...); err != nil {
		return err
	}
	s.maybeDrop(id)
	return nil
}

// Rename moves name in parent to newName in newParent, replacing what is
// there as rename(2) does; flags may hold RenameNoReplace or
// RenameExchange.
func (s *Store) Rename(parent ID, name string, newParent ID, newName string, flags uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if flags&^uint32(RenameNoReplace|RenameExchange) != 0 || flags == RenameNoReplace|RenameExchange {
		return syscall.EINVAL
	}
	p, err := s.getDir(parent)
	if err != nil {
		return err
	}
	np, err := s.getDir(newParent)
	if err != nil {
		return err
	}
	id, ok := p.children[name]
	if !ok {
		return syscall.ENOENT
	}
	c := s.nodes[id]
	oid, exists := np.children[newName]
	if flags&RenameExchange != 0 && !exists {
		return syscall.ENOENT
	}
	if flags&RenameNoReplace != 0 && exists {
		return syscall.EEXIST
	}
	if exists && oid == id {
		return nil
	}
	// A directory must not move below itself.
	if c.isDir() && s.inside(np, id) {
		return syscall.EINVAL
	}
	extra := 0
	if c.isDir() {
		extra = s.depthBelow(c)
	}
	if err := s.checkName(np, newName, c.isDir(), extra); err != nil {
		return err
	}
	var victim *node
	if exists {
		victim = s.nodes[oid]
		if flags&RenameExchange != 0 {
			vextra := 0
			if victim.isDir() {
				vextra = s.depthBelow(victim)
				if s.inside(p, oid) {
					return syscall.EINVAL
				}
			}
			if err := s.checkName(p, name, victim.isDir(), vextra); err != nil {
				return err
			}
		} else {
			switch {
			case c.isDir() && !victim.isDir():
				return syscall.ENOTDIR
			case !c.isDir() && victim.isDir():
				return syscall.EISDIR
			case victim.isDir() && len(victim.children) > 0:
				return syscall.ENOTEMPTY
			}
		}
	}
	now := stampOf(s.opts.Now())
	cm := c.nodeMeta
	cm.Ctime = now
	recs := []record{
		{op: opRename, parent: parent, name: name, newParent: newParent, newName: newName, exchange: flags&RenameExchange != 0},
		{op: opNode, node: changed(p, now)}, {op: opNode, node: cm},
	}
	if np != p {
		recs = append(recs, record{op: opNode, node: changed(np, now)})
	}
	// The replaced node changes too: exchanged, it moved; replaced while
	// other names keep it, it lost a link (as Unlink).
	if victim != nil && (flags&RenameExchange != 0 || !victim.isDir() && victim.nlink > 1) {
		vm := victim.nodeMeta
		vm.Ctime = now
		recs = append(recs, record{op: opNode, node: vm})
	}
	if err := s.journal(recs...); err != nil {
		return err
	}
	if victim != nil && flags&RenameExchange == 0 {
		s.maybeDrop(oid)
	}
	return nil
}

// inside reports whether directory n is dir or lies below it: the walk up
// n's parents stops at the root, or where a parent is missing (a broken
// chain is not below anything). s.mu is held.
func (s *Store) inside(n *node, dir ID) bool {
	for a := n; a != nil; a = s.nodes[a.parent] {
		if a.ID == dir {
			return true
		}
		if a.ID == RootID {
			return false
		}
	}
	return false
}

// SetAttr changes the metadata (and for Size, the length) of id. A
// change of size also sets mtime unless the call sets it.
func (s *Store) SetAttr(id ID, in SetAttrs) (Attr, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return Attr{}, err
	}
	now := stampOf(s.opts.Now())
	meta := n.nodeMeta
	if in.Size != nil {
		if n.isDir() {
			return Attr{}, syscall.EISDIR
		}
		if !n.isReg() || *in.Size < 0 {
			return Attr{}, syscall.EINVAL
		}
		f, err := s.toFile(n, n.Dirty)
		if err != nil {
			return Attr{}, err
		}
		err = f.Truncate(*in.Size)
		f.Close()
		if err != nil {
			return Attr{}, s.ioErr("truncate", err)
		}
		meta = n.nodeMeta
		n.size = *in.Size
		meta.Mtime = now
	}
	if in.Mode != nil {
		meta.Mode = n.Mode&syscall.S_IFMT | *in.Mode&0o7777
		if acl, ok := n.Xattrs[aclAccess]; ok {
			// As the kernel's posix_acl_chmod: the ACL follows the
			// mode, so getfacl and a restore see the same bits.
			if v, ok := aclChmod(acl, meta.Mode); ok {
				meta.Xattrs = without(n.Xattrs, aclAccess)
				meta.Xattrs[aclAccess] = v
			}
		}
	}
	if in.UID != nil {
		meta.UID = *in.UID
	}
	if in.GID != nil {
		meta.GID = *in.GID
	}
	if in.Atime != nil {
		meta.Atime = stampOf(format.ClampTime(*in.Atime))
	}
	if in.Mtime != nil {
		meta.Mtime = stampOf(format.ClampTime(*in.Mtime))
	}
	meta.Ctime = now
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		return Attr{}, err
	}
	return s.attr(n), nil
}

// changed is n's metadata with mtime and ctime set to now (a directory
// whose entries changed).
func changed(n *node, now stamp) nodeMeta {
	m := n.nodeMeta
	m.Mtime, m.Ctime = now, now
	return m
}

// GetXattr returns the value of attribute name of id (ENODATA).
func (s *Store) GetXattr(id ID, name string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return nil, err
	}
	v, ok := n.Xattrs[name]
	if !ok {
		return nil, syscall.ENODATA
	}
	return append([]byte(nil), v...), nil
}

// ListXattr returns the attribute names of id.
func (s *Store) ListXattr(id ID) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(n.Xattrs))
	for k := range n.Xattrs {
		out = append(out, k)
	}
	return out, nil
}

// SetXattr sets attribute name of id; flags may hold XattrCreate (EEXIST
// if set) or XattrReplace (ENODATA if not set). Names outside the
// namespaces a Linux filesystem keeps (user., trusted., security., the
// POSIX ACLs) are refused with EOPNOTSUPP, as ext4 does: a restore could
// not set them.
func (s *Store) SetXattr(id ID, name string, value []byte, flags uint32) error {
	if name == "" || len(name) > maxXattrName {
		return syscall.ERANGE
	}
	if !xattrNamespace(name) {
		return syscall.EOPNOTSUPP
	}
	if len(value) > maxXattrValue {
		return syscall.E2BIG
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return err
	}
	meta := n.nodeMeta
	meta.Ctime = stampOf(s.opts.Now())
	if name == aclAccess {
		mode, equiv, ok := aclMode(value)
		if !ok {
			return syscall.EINVAL
		}
		// As the kernel does: the ACL sets the mode bits, and one that
		// says no more than the mode is not kept.
		meta.Mode = meta.Mode&^0o777 | mode
		if equiv {
			if _, had := n.Xattrs[name]; had {
				meta.Xattrs = without(n.Xattrs, name)
			}
			return s.journal(record{op: opNode, node: meta})
		}
	}
	_, had := n.Xattrs[name]
	switch {
	case flags&XattrCreate != 0 && had:
		return syscall.EEXIST
	case flags&XattrReplace != 0 && !had:
		return syscall.ENODATA
	case !had && len(n.Xattrs) >= format.MaxXattrs:
		// What a snapshot entry holds (and ext4 answers when a
		// file's xattr space is full).
		return syscall.ENOSPC
	case !had && xattrListSize(n.Xattrs)+len(name)+1 > xattrListMax:
		// listxattr(2) could no longer list them all (E2BIG), so no
		// copy tool could read them back.
		return syscall.ENOSPC
	}
	x := make(map[string][]byte, len(n.Xattrs)+1)
	for k, v := range n.Xattrs {
		x[k] = v
	}
	x[name] = append([]byte(nil), value...)
	meta.Xattrs = x
	return s.journal(record{op: opNode, node: meta})
}

// aclAccess is the xattr of a POSIX access ACL, aclDefault of a
// directory's default ACL.
const (
	aclAccess  = "system.posix_acl_access"
	aclDefault = "system.posix_acl_default"
)

// xattrListMax is XATTR_LIST_MAX: the most a listxattr(2) returns.
const xattrListMax = 64 << 10

// xattrListSize is what listxattr(2) returns for x: every name and a NUL.
func xattrListSize(x map[string][]byte) int {
	n := 0
	for k := range x {
		n += len(k) + 1
	}
	return n
}

// xattrNamespace reports whether name is in a namespace the store keeps.
func xattrNamespace(name string) bool {
	for _, p := range []string{"user.", "trusted.", "security."} {
		if strings.HasPrefix(name, p) && len(name) > len(p) {
			return true
		}
	}
	return name == aclAccess || name == aclDefault
}

// aclMode reads a POSIX ACL xattr (version 2: entries of tag u16, perm
// u16, id u32): the permission bits it implies (owner, mask or group,
// other) and whether it is equivalent to them alone.
func aclMode(v []byte) (mode uint32, equiv, ok bool) {
	if len(v) < 4 || (len(v)-4)%8 != 0 || binary.LittleEndian.Uint32(v) != 2 {
		return 0, false, false
	}
	var user, group, mask, other uint32
	hasMask, equiv := false, true
	for e := v[4:]; len(e) > 0; e = e[8:] {
		tag, perm := binary.LittleEndian.Uint16(e), uint32(binary.LittleEndian.Uint16(e[2:])&7)
		switch tag {
		case 0x01:
			user = perm
		case 0x04:
			group = perm
		case 0x10:
			mask, hasMask = perm, true
			equiv = false
		case 0x20:
			other = perm
		case 0x02, 0x08:
			equiv = false
		default:
			return 0, false, false
		}
	}
	if hasMask {
		group = mask
	}
	return user<<6 | group<<3 | other, equiv, true
}

// aclChmod returns a copy of the POSIX ACL xattr v with the permission
// bits of mode: the owner entry, the mask (the group entry if there is
// no mask) and the other entry. ok is false for a malformed v.
func aclChmod(v []byte, mode uint32) (out []byte, ok bool) {
	if _, _, ok := aclMode(v); !ok {
		return nil, false
	}
	hasMask := false
	for e := v[4:]; len(e) > 0; e = e[8:] {
		hasMask = hasMask || binary.LittleEndian.Uint16(e) == 0x10
	}
	out = bytes.Clone(v)
	for e := out[4:]; len(e) > 0; e = e[8:] {
		var perm uint32
		switch tag := binary.LittleEndian.Uint16(e); {
		case tag == 0x01:
			perm = mode >> 6 & 7
		case tag == 0x10, tag == 0x04 && !hasMask:
			perm = mode >> 3 & 7
		case tag == 0x20:
			perm = mode & 7
		default:
			continue
		}
		binary.LittleEndian.PutUint16(e[2:], uint16(perm))
	}
	return out, true
}

func without(x map[string][]byte, name string) map[string][]byte {
	out := make(map[string][]byte, len(x))
	for k, v := range x {
		if k != name {
			out[k] = v
		}
	}
	return out
}

// RemoveXattr removes attribute name of id (ENODATA if not set).
func (s *Store) RemoveXattr(id ID, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return err
	}
	if _, ok := n.Xattrs[name]; !ok {
		return syscall.ENODATA
	}
	meta := n.nodeMeta
	meta.Xattrs = without(n.Xattrs, name)
	meta.Ctime = stampOf(s.opts.Now())
	return s.journal(record{op: opNode, node: meta})
}

// File is an open regular file of the store. ReadAt and WriteAt may be
// called concurrently; Close ends it.
type File struct {
	s      *Store
	id     ID
	f      *os.File // the node's data file, opened when first needed
	writer bool     // opened for writing (Create, MakeTmp, OpenWriter)
	// session: this handle changed the file (created, emptied, wrote,
	// truncated, allocated) since it was opened or since its last
	// Flush; guarded by s.mu.
	session bool
}

// begin marks the handle as writing the file (a session, see File).
// s.mu is held.
func (f *File) begin(n *node) {
	if !f.session {
		f.session = true
		n.sessions++
	}
}

// being reports whether regular file n is being written: a handle
// changed it and was neither flushed nor closed since, or it is marked
// dirty (a change not yet completed by a Flush).
func (n *node) being() bool { return n.Dirty || n.sessions > 0 }

// OpenFile opens regular file id; trunc empties it (O_TRUNC). A file
// emptied with no other handle open starts over in memory, as a created
// one (it is packed at its Flush while it stays small).
func (s *Store) OpenFile(id ID, trunc bool) (*File, error) {
	return s.openFile(id, trunc, false)
}

// OpenWriter is OpenFile for a handle opened for writing (O_WRONLY,
// O_RDWR): until it is closed, a commit that freezes the file leaves it
// in the tree (Frozen.Release), so the writer's later data is not lost.
func (s *Store) OpenWriter(id ID, trunc bool) (*File, error) {
	return s.openFile(id, trunc, true)
}

func (s *Store) openFile(id ID, trunc, writer bool) (*File, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(id)
	if err != nil {
		return nil, err
	}
	if n.isDir() {
		return nil, syscall.EISDIR
	}
	if !n.isReg() {
		return nil, syscall.EINVAL
	}
	if trunc {
		now := stampOf(s.opts.Now())
		meta := n.nodeMeta
		meta.Dirty, meta.Mtime, meta.Ctime = true, now, now
		inFile := !n.inMem && n.Pack == 0
		toMem := !inFile || n.open == 0
		if toMem {
			meta.Pack, meta.PackOff, meta.PackLen = 0, 0, 0
		} else if err := os.Truncate(s.dataPath(id), 0); err != nil {
			return nil, s.ioErr("truncate", err)
		}
		if err := s.journal(record{op: opNode, node: meta}); err != nil {
			return nil, err
		}
		n.size, n.lost = 0, nil
		if toMem {
			if inFile {
				os.Remove(s.dataPath(id))
			}
			s.memBytes -= int64(len(n.mem))
			n.inMem, n.mem = true, nil
		}
	}
	n.open++
	if writer {
		n.writers++
	}
	fh := &File{s: s, id: id, writer: writer}
	if trunc {
		fh.begin(n)
	}
	return fh, nil
}

// ID is the node the file belongs to.
func (f *File) ID() ID { return f.id }

// dataLocked returns the node's data file, opening it on first use; n
// is not in memory or packed. s.mu is held.
func (f *File) dataLocked() (*os.File, error) {
	if f.f == nil {
		df, err := f.s.openData(f.id)
		if err != nil {
			return nil, err
		}
		f.f = df
	}
	return f.f, nil
}

// ownData moves n's data to a data file of its own if it is in memory or
// packed (toFile), and returns the handle's data file. dirty marks the
// file being written. s.mu is held.
func (f *File) ownData(n *node, dirty bool) (*os.File, error) {
	if n.inMem || n.Pack != 0 {
		df, err := f.s.toFile(n, dirty)
		if err != nil {
			return nil, err
		}
		if f.f == nil {
			f.f = df
		} else {
			df.Close()
		}
	}
	return f.dataLocked()
}

// toFile gives n (a regular file in memory or packed) a data file of its
// own holding its data, and returns it open; a file already in its data
// file is opened. The copy is journaled (the pack's copy is dropped) with
// the file marked as being written if dirty. s.mu is held.
func (s *Store) toFile(n *node, dirty bool) (*os.File, error) {
	if !n.inMem && n.Pack == 0 {
		return s.openData(n.ID)
	}
	data := n.mem
	if !n.inMem {
		data = make([]byte, n.PackLen)
		p, err := s.openPack(n.Pack)
		if err != nil {
			return nil, err
		}
		if _, err := p.f.ReadAt(data, n.PackOff); err != nil {
			return nil, s.ioErr("read pack", err)
		}
	}
	if err := s.keepFree(int64(len(data))); err != nil {
		return nil, err
	}
	f, err := s.createData(n.ID)
	if err != nil {
		return nil, err
	}
	if len(data) > 0 {
		if _, err := f.WriteAt(data, 0); err != nil {
			f.Close()
			os.Remove(s.dataPath(n.ID))
			return nil, s.ioErr("write", err)
		}
	}
	if n.inMem {
		// Still being written: a crash removes it, nothing to journal.
		s.memBytes -= int64(len(n.mem))
		n.inMem, n.mem = false, nil
		return f, nil
	}
	meta := n.nodeMeta
	meta.Pack, meta.PackOff, meta.PackLen = 0, 0, 0
	meta.Dirty = meta.Dirty || dirty
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		f.Close()
		os.Remove(s.dataPath(n.ID))
		return nil, err
	}
	return f, nil
}

// ReadAt reads staged data.
func (f *File) ReadAt(p []byte, off int64) (int, error) {
	s := f.s
	s.mu.Lock()
	n, err := s.get(f.id)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	switch {
	case n.inMem:
		k := 0
		if off < int64(len(n.mem)) {
			k = copy(p, n.mem[off:])
		}
		s.mu.Unlock()
		if k < len(p) {
			return k, io.EOF
		}
		return k, nil
	case n.Pack != 0:
		meta := n.nodeMeta
		k, err := s.readPacked(&meta, p, off)
		s.mu.Unlock()
		return k, err
	}
	df, err := f.dataLocked()
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	return df.ReadAt(p, off)
}

// markDirty records, once per write session, that the file is being
// written: if the process dies before the next Flush the file is removed.
func (f *File) markDirty(n *node) error {
	if n.Dirty {
		return nil
	}
	meta := n.nodeMeta
	meta.Dirty = true
	return f.s.journal(record{op: opNode, node: meta})
}

// WriteAt writes p at off, extending the file as needed.
func (f *File) WriteAt(p []byte, off int64) (int, error) {
	s := f.s
	s.mu.Lock()
	n, err := s.get(f.id)
	if err != nil {
		s.mu.Unlock()
		return 0, err
	}
	if n.inMem && off == int64(len(n.mem)) && off+int64(len(p)) <= PackMax && s.memRoom(int64(len(p))) {
		// Appending to a small file being written: memory only.
		f.begin(n)
		n.mem = append(n.mem, p...)
		s.memBytes += int64(len(p))
		now := stampOf(s.opts.Now())
		n.size, n.Mtime, n.Ctime = int64(len(n.mem)), now, now
		n.gen++
		s.mu.Unlock()
		return len(p), nil
	}
	f.begin(n)
	df, err := f.ownData(n, true)
	if err == nil {
		err = f.markDirty(n)
	}
	if err == nil {
		err = s.keepFree(int64(len(p)))
	}
	if err != nil {
		n.lose(off, err)
	}
	s.mu.Unlock()
	if err != nil {
		return 0, err
	}
	w, werr := df.WriteAt(p, off)
	if werr != nil {
		werr = s.ioErr("write", werr)
	}
	s.mu.Lock()
	if n := s.nodes[f.id]; n != nil {
		n.size = max(n.size, off+int64(w))
		now := stampOf(s.opts.Now())
		n.Mtime, n.Ctime = now, now
		n.gen++
		if werr != nil {
			n.lose(off, werr)
		}
	}
	s.mu.Unlock()
	if werr != nil {
		return w, werr
	}
	return w, nil
}

// lose records that a write at off failed with err: the file does not
// hold everything written to it, and no Flush completes it (so no commit
// takes it and a restart removes it) until the range from off is
// truncated away or the file is emptied. s.mu is held.
func (n *node) lose(off int64, err error) {
	if n.lost == nil || off < n.lostAt {
		n.lost, n.lostAt = err, off
	}
}

// Truncate sets the length of the open file (ftruncate).
func (f *File) Truncate(size int64) (Attr, error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(f.id)
	if err != nil {
		return Attr{}, err
	}
	if size < 0 {
		return Attr{}, syscall.EINVAL
	}
	f.begin(n)
	grow := size - int64(len(n.mem))
	if n.inMem && size <= PackMax && (grow <= 0 || s.memRoom(grow)) {
		if grow <= 0 {
			n.mem = n.mem[:size]
		} else {
			n.mem = append(n.mem, make([]byte, grow)...)
		}
		s.memBytes += grow
	} else {
		df, err := f.ownData(n, true)
		if err != nil {
			return Attr{}, err
		}
		if err := df.Truncate(size); err != nil {
			return Attr{}, s.ioErr("truncate", err)
		}
	}
	if n.lost != nil && size <= n.lostAt {
		n.lost = nil // what a failed write left out is cut off
	}
	now := stampOf(s.opts.Now())
	n.size, n.Mtime, n.Ctime = size, now, now
	meta := n.nodeMeta
	meta.Dirty = true
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		return Attr{}, err
	}
	return s.attr(n), nil
}

// Fallocate modes Allocate takes (as fallocate(2)).
const (
	AllocKeepSize  = unix.FALLOC_FL_KEEP_SIZE
	AllocPunchHole = unix.FALLOC_FL_PUNCH_HOLE
	AllocZeroRange = unix.FALLOC_FL_ZERO_RANGE
)

// Allocate is fallocate(2) on the open file: mode 0 or AllocZeroRange
// reserve (and zero) the range and extend the file to off+length;
// with AllocKeepSize the length stays; AllocPunchHole|AllocKeepSize
// deallocates the range (it reads as zeros). Other modes, and modes the
// staging filesystem lacks, fail with EOPNOTSUPP (mode 0 then extends the
// file without reserving space); EINVAL for a negative offset or a
// length that is not positive.
func (f *File) Allocate(off, length int64, mode uint32) (Attr, error) {
	switch mode {
	case 0, AllocKeepSize, AllocZeroRange, AllocZeroRange | AllocKeepSize, AllocPunchHole | AllocKeepSize:
	default:
		return Attr{}, syscall.EOPNOTSUPP
	}
	if off < 0 || length <= 0 {
		return Attr{}, syscall.EINVAL
	}
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(f.id)
	if err != nil {
		return Attr{}, err
	}
	f.begin(n)
	df, err := f.ownData(n, true)
	if err != nil {
		return Attr{}, err
	}
	err = unix.Fallocate(int(df.Fd()), mode, off, length)
	if errors.Is(err, syscall.EOPNOTSUPP) && mode == 0 {
		err = nil
		if off+length > n.size {
			err = df.Truncate(off + length)
		}
	}
	if errors.Is(err, syscall.EOPNOTSUPP) {
		return Attr{}, syscall.EOPNOTSUPP
	}
	if err != nil {
		return Attr{}, s.ioErr("fallocate", err)
	}
	now := stampOf(s.opts.Now())
	grows := mode&AllocKeepSize == 0 && off+length > n.size
	if !grows && mode&(AllocZeroRange|AllocPunchHole) == 0 {
		// Space reserved within or past the end: nothing a reader sees.
		return s.attr(n), nil
	}
	if grows {
		n.size = off + length
	}
	n.Ctime = now
	if mode&(AllocZeroRange|AllocPunchHole) != 0 {
		n.Mtime = now
	}
	meta := n.nodeMeta
	meta.Dirty = true
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		return Attr{}, err
	}
	return s.attr(n), nil
}

// Flush ends the handle's write session (its writer closed it): unless
// another handle is still writing the file, a file still in memory is
// appended to the pack and journaled as complete with where its data is
// (one data write, one journal write); with Options.Sync the data and
// the journal are fsync'ed. The file is then complete and survives a
// crash. A handle that did not change the file since it was opened or
// last flushed changes nothing.
func (f *File) Flush() error {
	s := f.s
	s.mu.Lock()
	n := s.nodes[f.id]
	wrote := f.session
	if n != nil && f.session {
		f.session = false
		n.sessions--
	}
	if wrote && n != nil && n.lost != nil {
		// A write failed: closing must not make the file complete,
		// and the writer learns it again (as close(2) of NFS does).
		err := n.lost
		s.mu.Unlock()
		return err
	}
	if n == nil || !n.Dirty || n.sessions > 0 {
		s.mu.Unlock()
		return nil
	}
	if n.inMem {
		defer s.mu.Unlock()
		return s.packLocked(n)
	}
	if s.opts.Sync {
		df, err := f.dataLocked()
		s.mu.Unlock()
		if err != nil {
			return err
		}
		if err := df.Sync(); err != nil {
			return s.ioErr("sync", err)
		}
	} else {
		s.mu.Unlock()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n = s.nodes[f.id]
	if n == nil || !n.Dirty || n.inMem || n.Pack != 0 || n.sessions > 0 {
		return nil
	}
	meta := n.nodeMeta
	meta.Dirty = false
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		return err
	}
	if s.opts.Sync {
		if err := s.j.Sync(); err != nil {
			return s.ioErr("sync journal", err)
		}
	}
	return nil
}

// packLocked appends the in-memory data of n to the pack and journals n
// as complete, packed there. s.mu is held (with Options.Sync the fsyncs
// of pack and journal happen under it).
func (s *Store) packLocked(n *node) error {
	pn, off, err := s.appendPack(n.mem)
	if err != nil {
		return err
	}
	if s.opts.Sync {
		if err := s.packs[pn].f.Sync(); err != nil {
			return s.ioErr("sync pack", err)
		}
	}
	meta := n.nodeMeta
	meta.Dirty = false
	meta.Pack, meta.PackOff, meta.PackLen = pn, off, int64(len(n.mem))
	if err := s.journal(record{op: opNode, node: meta}); err != nil {
		return err
	}
	s.memBytes -= int64(len(n.mem))
	n.inMem, n.mem = false, nil
	if s.opts.Sync {
		if err := s.j.Sync(); err != nil {
			return s.ioErr("sync journal", err)
		}
	}
	return nil
}

// Sync fsyncs the file's data and the journal (fsync(2)). A file still
// in memory moves to a data file of its own first. A handle writing the
// file after one of its writes failed gets that error (see lose).
func (f *File) Sync() error {
	s := f.s
	s.mu.Lock()
	n, err := s.get(f.id)
	var df *os.File
	switch {
	case err != nil:
	case f.session && n.lost != nil:
		err = n.lost // what a failed write left out cannot be synced
	case n.inMem:
		df, err = f.ownData(n, true)
	case n.Pack != 0:
		var p *pack
		if p, err = s.openPack(n.Pack); err == nil {
			df = p.f
		}
	default:
		df, err = f.dataLocked()
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	if err := df.Sync(); err != nil {
		return s.ioErr("sync", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.journal(); err != nil {
		return err
	}
	if err := s.j.Sync(); err != nil {
		return s.ioErr("sync journal", err)
	}
	return nil
}

// SyncTree is fsync(2) of a directory: it writes the records held back
// (see holdBack) and, with Options.Sync, fsyncs the journal, so the
// tree's names and metadata are as durable as the rest of the store.
func (s *Store) SyncTree() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.journal(); err != nil {
		return err
	}
	if !s.opts.Sync {
		return nil
	}
	if err := s.j.Sync(); err != nil {
		return s.ioErr("sync journal", err)
	}
	return nil
}

// Close releases the file (the last descriptor of the handle was
// closed); an unlinked file's data goes with its last handle. A handle
// still in a write session (changed the file and not flushed since) is
// flushed first: its writer is gone.
func (f *File) Close() error {
	s := f.s
	var ferr error
	if f.session {
		ferr = f.Flush()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if f.f != nil {
		err = f.f.Close()
		f.f = nil
	}
	if n := s.nodes[f.id]; n != nil {
		n.open--
		if f.writer {
			n.writers--
		}
		if f.session {
			// The Flush failed: the session ends with the handle, and
			// the file stays marked as being written.
			f.session = false
			n.sessions--
		}
		s.maybeDrop(f.id)
	}
	return errors.Join(ferr, err)
}

// ClearSetID clears the set-user-ID bit and, if group execute is set,
// the set-group-ID bit of the open file, as a write by a process without
// CAP_FSETID does (the kernel leaves this to the filesystem for direct
// I/O). It reports whether a bit was cleared.
func (f *File) ClearSetID() (bool, error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.get(f.id)
	if err != nil {
		return false, err
	}
	drop := n.Mode & syscall.S_ISUID
	if n.Mode&(syscall.S_ISGID|syscall.S_IXGRP) == syscall.S_ISGID|syscall.S_IXGRP {
		drop |= syscall.S_ISGID
	}
	if drop == 0 {
		return false, nil
	}
	meta := n.nodeMeta
	meta.Mode &^= drop
	meta.Ctime = stampOf(s.opts.Now())
	return true, s.journal(record{op: opNode, node: meta})
}
