package manage

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
)

// sink is somewhere account JWTs are written: a store, or — for a store
// read over HTTP, which is read-only — the POST API of the account server
// behind it.
type sink interface {
	put(ctx context.Context, pub, token string) (store.Change, error)
	del(ctx context.Context, pub string) error
	replace(ctx context.Context, pub, token string) (store.Change, error)
}

type storeSink struct{ st store.Store }

func (s storeSink) put(ctx context.Context, pub, token string) (store.Change, error) {
	return s.st.Put(ctx, pub, token)
}

func (s storeSink) del(ctx context.Context, pub string) error {
	err := s.st.Delete(ctx, pub)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (s storeSink) replace(ctx context.Context, pub, token string) (store.Change, error) {
	return store.Replace(ctx, s.st, pub, token)
}

type accountServerSink struct{ as *claims.AccountServer }

func (s accountServerSink) replace(context.Context, string, string) (store.Change, error) {
	return store.Unchanged, fmt.Errorf("account server %s: the account-server API cannot replace a newer JWT; replace it in its store",
		s.as.URL())
}

func (s accountServerSink) put(ctx context.Context, pub, token string) (store.Change, error) {
	r, err := s.as.Post(ctx, pub, token)
	if err != nil {
		return store.Unchanged, err
	}
	if !r.OK() {
		return store.Unchanged, fmt.Errorf("account server %s refused account %s: %s (%d)", s.as.URL(), pub, r.Message, r.Code)
	}
	return store.Updated, nil
}

func (s accountServerSink) del(context.Context, string) error {
	return fmt.Errorf("account server %s: the account-server API has no delete; delete the account from its store", s.as.URL())
}

// target is one store the change is written to, and who reads it.
type target struct {
	url     string // as configured (may hold a password)
	sink    sink
	readers []string // labels of running servers that read it
	primary bool
}

// targets are where a change goes: the primary store and the store of
// every running server of the home, each opened (a failure refuses the
// change before anything is written), and the running servers.
type targets struct {
	stores  []*target
	servers []serving.Server
}

// targets opens every store the home's servers read. The caller holds m.mu.
func (m *Manager) targets(ctx context.Context) (*targets, error) {
	live, err := serving.List(m.home.Dir())
	if err != nil {
		return nil, err
	}
	tg := &targets{servers: live}
	byKey := map[string]*target{}
	add := func(u string, primary bool) (*target, error) {
		k := canonical(u)
		if t, ok := byKey[k]; ok {
			return t, nil
		}
		s, err := m.sinkFor(ctx, u)
		if err != nil {
			return nil, err
		}
		t := &target{url: u, sink: s, primary: primary}
		byKey[k] = t
		tg.stores = append(tg.stores, t)
		return t, nil
	}
	if _, err := add(m.primary, true); err != nil {
		return nil, fmt.Errorf("account-JWT store %s: %w (nothing was changed)", store.Redact(m.primary), err)
	}
	for _, s := range live {
		if !shared(s.Store) {
			continue // only that process holds it: its acknowledgement says whether it applied the change
		}
		t, err := add(s.Store, false)
		if err != nil {
			return nil, fmt.Errorf("the store %s that %s reads: %w (nothing was changed)", store.Redact(s.Store), s.Label(), err)
		}
		t.readers = append(t.readers, s.Label())
	}
	return tg, nil
}

// sinkFor opens (or reuses) what writes to the store at u.
func (m *Manager) sinkFor(ctx context.Context, u string) (sink, error) {
	if isHTTP(u) {
		base, err := url.Parse(u)
		if err != nil {
			return nil, err
		}
		base.RawQuery = ""
		as, err := claims.NewAccountServer(base.String(), &http.Client{Timeout: m.cfg.PublishTimeout})
		if err != nil {
			return nil, err
		}
		return accountServerSink{as}, nil
	}
	st, err := m.openStore(ctx, u)
	if err != nil {
		return nil, err
	}
	return storeSink{st}, nil
}

// openStore opens the store at u with the home's trust policy, once.
func (m *Manager) openStore(ctx context.Context, u string) (store.Store, error) {
	k := canonical(u)
	if st, ok := m.stores[k]; ok {
		return st, nil
	}
	octx, cancel := context.WithTimeout(ctx, m.cfg.PublishTimeout)
	defer cancel()
	st, err := store.Open(octx, u, store.Options{Policy: m.home.Policy(), Logger: m.log})
	if err != nil {
		return nil, err
	}
	m.stores[k] = st
	return st, nil
}

// canonical is a store URL reduced so that two spellings of one store
// compare equal.
func canonical(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.Scheme = strings.ToLower(u.Scheme)
	switch u.Scheme {
	case "sqlite", "dir":
		return u.Scheme + "://" + path.Clean(u.Host+u.Path)
	}
	return u.String()
}

// shared reports whether another process can write the store at u: not an
// in-memory store.
func shared(u string) bool { return !strings.HasPrefix(strings.ToLower(u), "mem:") }

func isHTTP(u string) bool {
	l := strings.ToLower(u)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// record appends the change's audit entries to the log kept with the
// primary store (the home's audit.log when it keeps none). The change is
// done whatever happens here, so a failure is logged, not returned.
func (m *Manager) record(ctx context.Context, entries []audit.Entry) {
	if len(entries) == 0 {
		return
	}
	log, err := m.auditLog(ctx)
	if err == nil {
		attributed := make([]audit.Entry, len(entries))
		for i, e := range entries {
			attributed[i] = audit.Attribute(ctx, e)
		}
		err = audit.AppendAll(ctx, log, attributed)
	}
	if err != nil {
		m.log.Warn("the change is done but was not recorded in the audit log", "error", err)
	}
}

// auditLog is the log kept with the primary store, or the home's file.
func (m *Manager) auditLog(ctx context.Context) (audit.Log, error) {
	if m.audit != nil {
		return m.audit, nil
	}
	if !isHTTP(m.primary) {
		st, err := m.openStore(ctx, m.primary)
		if err != nil {
			return nil, err
		}
		if l := store.AuditLog(st); l != nil {
			m.audit = l
			return l, nil
		}
	}
	m.audit = audit.NewFile(m.auditPath())
	return m.audit, nil
}

// deliver writes the change's accounts to every target store and waits
// for every running server to acknowledge them.
func (m *Manager) deliver(ctx context.Context, tg *targets, c *change) *Result {
	res := &Result{Servers: tg.servers}
	pctx, cancel := context.WithTimeout(ctx, m.cfg.PublishTimeout)
	defer cancel()
	pub := latest(c.publish)
	for _, acc := range pub {
		for _, t := range tg.stores {
			write := t.sink.put
			if c.replace {
				write = t.sink.replace
			}
			ch, err := write(pctx, acc.Pub, acc.JWT)
			if errors.Is(err, store.ErrStale) {
				err = fmt.Errorf("the store holds a newer JWT of account %s than the home: %w", acc.Name, err)
			}
			res.Deliveries = append(res.Deliveries, Delivery{Account: acc.Name, Pub: acc.Pub, Target: store.Redact(t.url),
				Change: ch, Readers: t.readers, Err: err})
		}
	}
	for _, acc := range c.unpublish {
		for _, t := range tg.stores {
			err := t.sink.del(pctx, acc.Pub)
			res.Deliveries = append(res.Deliveries, Delivery{Account: acc.Name, Pub: acc.Pub, Deleted: true,
				Target: store.Redact(t.url), Readers: t.readers, Err: err})
		}
	}
	if m.cfg.ApplyTimeout > 0 {
		res.Deliveries = append(res.Deliveries, m.awaitAcks(ctx, tg.servers, pub, c.unpublish)...)
	}
	return res
}

// latest keeps the last JWT of each account, in first-seen order.
func latest(accs []authority.AccountInfo) []authority.AccountInfo {
	idx := map[string]int{}
	var out []authority.AccountInfo
	for _, a := range accs {
		if i, ok := idx[a.Pub]; ok {
			out[i] = a
			continue
		}
		idx[a.Pub] = len(out)
		out = append(out, a)
	}
	return out
}

// awaitAcks waits, at most ApplyTimeout, for every running server that
// watches the home to acknowledge every published and removed account.
func (m *Manager) awaitAcks(ctx context.Context, servers []serving.Server, pub, unpub []authority.AccountInfo) []Delivery {
	type job struct {
		s       serving.Server
		acc     authority.AccountInfo
		fp      string
		deleted bool
	}
	var jobs []job
	for _, s := range servers {
		if !s.WatchesHome {
			continue
		}
		for _, a := range pub {
			jobs = append(jobs, job{s: s, acc: a, fp: serving.Fingerprint(a.JWT)})
		}
		for _, a := range unpub {
			jobs = append(jobs, job{s: s, acc: a, fp: serving.Deleted, deleted: true})
		}
	}
	out := make([]Delivery, len(jobs))
	wctx, cancel := context.WithTimeout(ctx, m.cfg.ApplyTimeout)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			s := j.s
			d := Delivery{Account: j.acc.Name, Pub: j.acc.Pub, Deleted: j.deleted, Target: s.Label(), Server: &s}
			ack, err := serving.WaitAck(wctx, m.home.Dir(), s, j.acc.Pub, j.fp)
			d.Took = time.Since(start)
			switch {
			case errors.Is(err, serving.ErrGone):
				d.Note = "stopped meanwhile; it publishes the home when it starts again"
			case err != nil:
				d.Err = fmt.Errorf("did not apply the change within %s (see that server's log)", m.cfg.ApplyTimeout)
			case ack.Err != "":
				d.Err = errors.New(ack.Err)
			}
			out[i] = d
		})
	}
	wg.Wait()
	return out
}

// ServingStore is one store the home's servers read, opened for reading.
type ServingStore struct {
	URL     string // redacted
	Store   store.Store
	Readers []string // running servers that read it
}

// ServingStores opens the primary store and the store of every running
// server of the home (not in-memory ones), for a read such as doctor's
// comparison with the home. The Manager closes them.
func (m *Manager) ServingStores(ctx context.Context) ([]ServingStore, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	live, err := serving.List(m.home.Dir())
	if err != nil {
		return nil, err
	}
	var out []ServingStore
	idx := map[string]int{}
	add := func(u, reader string) error {
		k := canonical(u)
		if i, ok := idx[k]; ok {
			if reader != "" {
				out[i].Readers = append(out[i].Readers, reader)
			}
			return nil
		}
		st, err := m.openStore(ctx, u)
		if err != nil {
			return fmt.Errorf("store %s: %w", store.Redact(u), err)
		}
		idx[k] = len(out)
		ss := ServingStore{URL: store.Redact(u), Store: st}
		if reader != "" {
			ss.Readers = []string{reader}
		}
		out = append(out, ss)
		return nil
	}
	if err := add(m.primary, ""); err != nil {
		return nil, err
	}
	for _, s := range live {
		if shared(s.Store) {
			if err := add(s.Store, s.Label()); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}
