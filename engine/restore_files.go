package engine

import (
	"container/list"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// maxRestoreFDs bounds the regular files a restore keeps open at once,
// whatever the number of files it restores: a file is opened when its
// data arrives and closed once it is complete, or when it is the least
// recently written of too many open ones (then it is opened again for its
// next chunk). Chunks arrive in tape order, which is mostly file order, so
// few files are ever reopened.
const maxRestoreFDs = 256

// fileSet keeps the open files of a restore within a bound. Its lock
// ranks below restoreJob.mu: it is never taken with r.mu held, and r.mu
// may be taken with it held only in close paths that set a file's err.
//
// A file is created by the restore (O_EXCL, no symlink followed) and its
// device and inode are kept; reopening checks them, so whatever replaced
// the path in between (a symlink, another file) is never written.
type fileSet struct {
	mu   sync.Mutex
	max  int
	open map[*restoreFile]*list.Element // of *openFile, front = most recent
	lru  list.List
	// failed records a close error (data that could not be kept) on its
	// file; called without mu held.
	failed func(rf *restoreFile, err error)
}

type openFile struct {
	rf   *restoreFile
	fd   *os.File
	refs int // writers using fd now; it is closed only at 0
	// drop: close fd when the last writer is done with it.
	drop bool
}

func newFileSet(limit int, failed func(*restoreFile, error)) *fileSet {
	var lim unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &lim) == nil && lim.Cur > 0 {
		// Leave most descriptors to the rest of the process (catalog,
		// devices, a daemon's FUSE handles).
		limit = min(limit, int(lim.Cur/4))
	}
	return &fileSet{max: max(limit, 4), open: map[*restoreFile]*list.Element{}, failed: failed}
}

// create makes rf's file at its final size (holes where the snapshot has
// holes) and remembers its identity. It keeps it open when data is still
// to come and there is room.
func (s *fileSet) create(rf *restoreFile) error {
	fd, err := os.OpenFile(rf.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	if rf.entry.Size > 0 {
		// Its size first: what put leaves out (zero blocks) and holes
		// read as zeros, and stay holes.
		if err := fd.Truncate(rf.entry.Size); err != nil {
			fd.Close()
			os.Remove(rf.path)
			return err
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil {
		fd.Close()
		os.Remove(rf.path)
		return err
	}
	rf.dev, rf.ino, rf.created = st.Dev, st.Ino, true
	if rf.left == 0 {
		return fd.Close()
	}
	s.mu.Lock()
	s.insert(&openFile{rf: rf, fd: fd})
	evicted := s.evict()
	s.mu.Unlock()
	s.closeEvicted(evicted)
	return nil
}

// acquire returns rf's open file for writing, reopening it if it was
// closed; the caller gives it back with release.
func (s *fileSet) acquire(rf *restoreFile) (*openFile, error) {
	s.mu.Lock()
	if el, ok := s.open[rf]; ok {
		of := el.Value.(*openFile)
		of.refs++
		s.lru.MoveToFront(el)
		s.mu.Unlock()
		return of, nil
	}
	s.mu.Unlock()
	fd, err := reopen(rf)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if _, ok := s.open[rf]; ok {
		// Another writer reopened it meanwhile.
		s.mu.Unlock()
		fd.Close()
		return s.acquire(rf)
	}
	of := &openFile{rf: rf, fd: fd, refs: 1}
	s.insert(of)
	evicted := s.evict()
	s.mu.Unlock()
	s.closeEvicted(evicted)
	return of, nil
}

// reopen opens the file restore created for rf again, refusing anything
// that is not that file any more.
func reopen(rf *restoreFile) (*os.File, error) {
	fd, err := os.OpenFile(rf.path, os.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(fd.Fd()), &st); err != nil {
		fd.Close()
		return nil, err
	}
	// A second name means someone linked another file in (a file this
	// restore made has one until finish makes its hard links).
	if st.Dev != rf.dev || st.Ino != rf.ino || st.Nlink != 1 {
		fd.Close()
		return nil, fmt.Errorf("%s was replaced during the restore", rf.path)
	}
	return fd, nil
}

// release gives of back; done says the file has all its data, so it is
// closed now. The close's error (data that could not be kept) is
// returned.
func (s *fileSet) release(of *openFile, done bool) error {
	s.mu.Lock()
	of.refs--
	if done {
		of.drop = true
		s.remove(of.rf)
	}
	closeNow := of.drop && of.refs == 0
	s.mu.Unlock()
	if closeNow && !done {
		s.closeEvicted([]*openFile{of})
		return nil
	}
	if closeNow {
		return of.fd.Close()
	}
	return nil
}

// closeAll closes every file still open and reports each close error on
// its file.
func (s *fileSet) closeAll() {
	s.mu.Lock()
	var all []*openFile
	for rf, el := range s.open {
		all = append(all, el.Value.(*openFile))
		s.remove(rf)
	}
	s.mu.Unlock()
	s.closeEvicted(all)
}

func (s *fileSet) insert(of *openFile) {
	s.open[of.rf] = s.lru.PushFront(of)
}

func (s *fileSet) remove(rf *restoreFile) {
	if el, ok := s.open[rf]; ok {
		s.lru.Remove(el)
		delete(s.open, rf)
	}
}

// evict takes the least recently used files out while more than max are
// open; those no writer uses are returned to be closed (outside the
// lock), the others are closed by their last release.
func (s *fileSet) evict() []*openFile {
	var out []*openFile
	for s.lru.Len() > s.max {
		of := s.lru.Back().Value.(*openFile)
		s.remove(of.rf)
		of.drop = true
		if of.refs == 0 {
			out = append(out, of)
		}
	}
	return out
}

// closeEvicted closes files taken out of the set; a failed close fails
// its file.
func (s *fileSet) closeEvicted(files []*openFile) {
	for _, of := range files {
		if err := of.fd.Close(); err != nil && s.failed != nil {
			s.failed(of.rf, err)
		}
	}
}
