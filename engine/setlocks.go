// Media-set locks: tapes a set writer claimed, and sets a running job
// holds so that retention leaves them alone.

package engine

import "github.com/google/uuid"

// claimTape reserves tape id for writer w until w's job releases its
// claims (releaseClaims); false when another writer holds it.
func (e *Engine) claimTape(id uuid.UUID, w *setWriter) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if o, ok := e.claims[id]; ok && o != w {
		return false
	}
	e.claims[id] = w
	return true
}

// claimedByOther reports whether a writer other than w holds tape id.
func (e *Engine) claimedByOther(id uuid.UUID, w *setWriter) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	o, ok := e.claims[id]
	return ok && o != w
}

// releaseClaims frees the tapes writer w chose.
func (e *Engine) releaseClaims(w *setWriter) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for id, o := range e.claims {
		if o == w {
			delete(e.claims, id)
		}
	}
}

// lockedSets are the media sets restores are reading: never overwritten.
func (e *Engine) lockedSets() map[uuid.UUID]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[uuid.UUID]bool{}
	for id, n := range e.setLocks {
		if n > 0 {
			out[id] = true
		}
	}
	return out
}

func (e *Engine) lockSet(id uuid.UUID) func() {
	e.mu.Lock()
	e.setLocks[id]++
	e.mu.Unlock()
	return func() {
		e.mu.Lock()
		e.setLocks[id]--
		e.mu.Unlock()
	}
}
