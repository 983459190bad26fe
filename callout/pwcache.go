package callout

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"log/slog"
	"sync"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/callout/userdb"
)

// pwCache remembers recent successful password checks by an HMAC of name
// and password under a key made at start and never stored, so a reconnect
// storm costs one argon2id per user, not per connect. Failures are never
// cached. Any change to a user (seen by the poll) forgets its entries.
type pwCache struct {
	key []byte
	ttl time.Duration

	mu      sync.Mutex
	entries map[[32]byte]pwEntry
}

type pwEntry struct {
	user    userdb.User
	expires time.Time
}

// maxCached bounds the cache; when full it is cleared.
const maxCached = 100_000

func newPWCache(key []byte, ttl time.Duration) *pwCache {
	return &pwCache{key: key, ttl: ttl, entries: map[[32]byte]pwEntry{}}
}

func (c *pwCache) mac(name, password string) [32]byte {
	h := hmac.New(sha256.New, c.key)
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write([]byte(password))
	var out [32]byte
	copy(out[:], h.Sum(nil))
	return out
}

func (c *pwCache) get(name, password string) (userdb.User, bool) {
	k := c.mac(name, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok || time.Now().After(e.expires) || e.user.Name != name {
		delete(c.entries, k)
		return userdb.User{}, false
	}
	return e.user, true
}

func (c *pwCache) put(name, password string, u userdb.User) {
	k := c.mac(name, password)
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= maxCached {
		clear(c.entries)
	}
	c.entries[k] = pwEntry{user: u, expires: time.Now().Add(c.ttl)}
}

// forget drops every entry of a user.
func (c *pwCache) forget(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if e.user.Name == name {
			delete(c.entries, k)
		}
	}
}

// auditor appends audit entries in the background, so a connect does not
// wait for the audit log's disk or network; Close waits for the queue to
// drain. When the queue is full, add waits (no entry is dropped).
type auditor struct {
	log  audit.Log
	l    *slog.Logger
	q    chan audit.Entry
	done chan struct{}
	once sync.Once
}

func newAuditor(log audit.Log, l *slog.Logger) *auditor {
	a := &auditor{log: log, l: l}
	if log == nil {
		return a
	}
	a.q, a.done = make(chan audit.Entry, 4096), make(chan struct{})
	go func() {
		defer close(a.done)
		ctx := audit.WithActor(context.Background(), audit.Actor{Via: "callout"})
		for e := range a.q {
			actx, cancel := context.WithTimeout(ctx, 10*time.Second)
			if err := a.log.Append(actx, audit.Attribute(actx, e)); err != nil {
				a.l.Warn("callout: audit log append failed", "action", e.Action, "user", e.User, "err", err)
			}
			cancel()
		}
	}()
	return a
}

func (a *auditor) add(e audit.Entry) {
	if a.q != nil {
		a.q <- e
	}
}

func (a *auditor) close() {
	if a.q == nil {
		return
	}
	a.once.Do(func() {
		close(a.q)
		<-a.done
	})
}
