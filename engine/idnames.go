package engine

import (
	"os/user"
	"strconv"
	"sync"
)

// idNames caches uid/gid → name lookups: a backup asks for the same few
// owners millions of times.
type idNames struct {
	mu     sync.Mutex
	users  map[uint32]string
	groups map[uint32]string
}

func newIDNames() *idNames {
	return &idNames{users: map[uint32]string{}, groups: map[uint32]string{}}
}

func (n *idNames) user(uid uint32) string {
	return n.lookup(n.users, uid, func(id string) (string, error) {
		u, err := user.LookupId(id)
		if err != nil {
			return "", err
		}
		return u.Username, nil
	})
}

func (n *idNames) group(gid uint32) string {
	return n.lookup(n.groups, gid, func(id string) (string, error) {
		g, err := user.LookupGroupId(id)
		if err != nil {
			return "", err
		}
		return g.Name, nil
	})
}

// lookup returns the cached name of id, or asks find; unknown ids have no
// name ("").
func (n *idNames) lookup(m map[uint32]string, id uint32, find func(string) (string, error)) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if s, ok := m[id]; ok {
		return s
	}
	s, err := find(strconv.FormatUint(uint64(id), 10))
	if err != nil {
		s = ""
	}
	m[id] = s
	return s
}
