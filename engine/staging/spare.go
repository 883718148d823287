package staging

import (
	"os"
)

// The data files of new regular files are created ahead, by a goroutine
// that keeps a few ready (opened, under ids reserved for them): creating
// a file on the staging filesystem costs about as much as the rest of a
// small file's copy-in, and done ahead it overlaps with what the writer
// does between two files instead of delaying each create. A crash leaves
// the ready files without nodes; Open removes them as stray data.

// spareTarget is how many data files are kept ready once files are
// being created.
const spareTarget = 32

// spareFile is a created, empty data file no node uses yet.
type spareFile struct {
	id ID
	f  *os.File
}

// spares is the state of the ready data files; Store.mu guards it.
type spares struct {
	ready   []spareFile
	wake    chan struct{} // nil until the first take; closed by stopSpares
	done    chan struct{} // closed when the filler returned
	stopped bool
}

// takeSpare returns a ready data file, or false when none is ready, and
// has the filler make more. s.mu is held.
func (s *Store) takeSpare() (spareFile, bool) {
	sp := &s.spare
	if sp.stopped || s.closed {
		return spareFile{}, false
	}
	if sp.wake == nil {
		sp.wake, sp.done = make(chan struct{}, 1), make(chan struct{})
		go s.fillSpares(sp.wake, sp.done)
	}
	select {
	case sp.wake <- struct{}{}:
	default:
	}
	if len(sp.ready) == 0 {
		return spareFile{}, false
	}
	f := sp.ready[0]
	sp.ready = sp.ready[1:]
	return f, true
}

// fillSpares makes data files until spareTarget are ready, each time it
// is woken, until wake is closed. An error (a full filesystem) ends the
// round: the creates then make their files themselves and report it.
func (s *Store) fillSpares(wake <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	for range wake {
		for {
			s.mu.Lock()
			if s.spare.stopped || len(s.spare.ready) >= spareTarget {
				s.mu.Unlock()
				break
			}
			id := s.next
			s.next++
			s.mu.Unlock()
			f, err := createFile(s.dataPath(id))
			if err != nil {
				break
			}
			s.mu.Lock()
			stopped := s.spare.stopped
			if !stopped {
				s.spare.ready = append(s.spare.ready, spareFile{id: id, f: f})
			}
			s.mu.Unlock()
			if stopped {
				f.Close()
				os.Remove(s.dataPath(id))
				break
			}
		}
	}
}

// stopSpares stops the filler and removes the ready files.
func (s *Store) stopSpares() {
	s.mu.Lock()
	sp := &s.spare
	sp.stopped = true
	wake, done, ready := sp.wake, sp.done, sp.ready
	sp.ready = nil
	s.mu.Unlock()
	if wake != nil {
		close(wake)
		<-done
	}
	for _, f := range ready {
		f.f.Close()
		os.Remove(s.dataPath(f.id))
	}
}
