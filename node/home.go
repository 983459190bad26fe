package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/serving"
	"github.com/natsauth/natsauth/store"
)

// FromHome returns the configuration of a node that serves a natsauth
// home: the trusted operator and system account (with the key that signs
// the node's in-process system user), the home's account JWTs to seed into
// the store, the JetStream directory, and Home — with which the node
// registers itself in the home and applies every change made to the home's
// account files, by natsauth or by nsc. Callers add flags, a config file,
// an explicit store, a logger.
func FromHome(h *authority.Home) (Config, error) {
	signer, err := h.UserSigner(h.SystemAccount())
	if err != nil {
		return Config{}, fmt.Errorf("node: system account key: %w", err)
	}
	seed, err := h.AccountJWTs()
	if err != nil {
		return Config{}, fmt.Errorf("node: %w", err)
	}
	sysName := authority.SystemAccountName
	if sys, err := h.AccountByPub(h.SystemAccount()); err == nil {
		sysName = sys.Name
	}
	return Config{
		Home:                h.Dir(),
		OperatorJWT:         h.OperatorJWT(),
		SystemAccountName:   sysName,
		SystemSigner:        signer,
		Seed:                seed,
		DefaultJetStreamDir: DefaultJetStreamDir(h.Dir()),
		LocalCopyDir:        DefaultLocalCopyDir(h.Dir()),
	}, nil
}

// Timing of the home watch.
const (
	homeSettle  = 15 * time.Millisecond // quiet time before a changed account is read
	homeRescan  = 30 * time.Second      // full rescan, in case an event was missed
	homeTimeout = 10 * time.Second      // bound on applying one change
)

// homeWatch applies changes of the home's account JWT files to the node's
// store and server, and acknowledges each in the registry.
type homeWatch struct {
	n    *Node
	home *authority.Home
	reg  *serving.Registration
	w    *fsnotify.Watcher

	mu      sync.Mutex
	pending map[string]time.Time // account name → last event
	known   map[string]seen      // account name → what was processed

	cancel context.CancelFunc
	done   chan struct{}
}

// seen is the last JWT of an account the watch processed, and whether it
// was acknowledged.
type seen struct {
	pub, fp string
	acked   bool
}

// startHome registers the node in its home and starts the home watch.
func (n *Node) startHome(ctx context.Context) error {
	if n.cfg.Home == "" {
		return nil
	}
	h, err := authority.Open(n.cfg.Home)
	if err != nil {
		return fmt.Errorf("node: home: %w", err)
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("node: watch home: %w", err)
	}
	reg, err := serving.Register(h.Dir(), serving.Server{
		Store:       n.storeURL,
		StoreFrom:   n.storeFrom,
		ClientURL:   n.srv.ClientURL(),
		ConfigFile:  n.cfg.ConfigFile,
		WatchesHome: true,
	})
	if err != nil {
		w.Close()
		return fmt.Errorf("node: %w", err)
	}
	hw := &homeWatch{n: n, home: h, reg: reg, w: w, pending: map[string]time.Time{},
		known: map[string]seen{}, done: make(chan struct{})}
	for pub, tok := range n.cfg.Seed {
		if ac, err := jwt.DecodeAccountClaims(tok); err == nil {
			hw.known[ac.Name] = seen{pub: pub, fp: serving.Fingerprint(tok)}
		}
	}
	if err := hw.watchDirs(); err != nil {
		reg.Close()
		w.Close()
		return err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	hw.cancel = cancel
	n.home = hw
	go hw.run(audit.WithActor(wctx, audit.Actor{Via: audit.ViaServe, Command: "home watch"}))
	return nil
}

// stopHome stops the watch and removes the node from the registry.
func (n *Node) stopHome() {
	hw := n.home
	if hw == nil {
		return
	}
	hw.cancel()
	<-hw.done
	hw.w.Close()
	hw.reg.Close()
}

// watchDirs watches the accounts directory, each account's directory and
// the operator's directory.
func (hw *homeWatch) watchDirs() error {
	dir := hw.home.AccountsDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("node: watch home: %w", err)
	}
	if err := hw.w.Add(dir); err != nil {
		return fmt.Errorf("node: watch home %s: %w", dir, err)
	}
	if err := hw.w.Add(filepath.Dir(dir)); err != nil {
		return fmt.Errorf("node: watch home: %w", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("node: watch home: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := hw.w.Add(filepath.Join(dir, e.Name())); err != nil {
				return fmt.Errorf("node: watch home: %w", err)
			}
			hw.mark(e.Name()) // catch changes made since the node was configured
		}
	}
	return nil
}

func (hw *homeWatch) mark(name string) {
	hw.mu.Lock()
	hw.pending[name] = time.Now()
	hw.mu.Unlock()
}

// run turns file events into account names and processes each once its
// files have been quiet for homeSettle.
func (hw *homeWatch) run(ctx context.Context) {
	defer close(hw.done)
	accounts := hw.home.AccountsDir()
	opFile := hw.home.OperatorJWTPath()
	tick := time.NewTicker(homeSettle)
	defer tick.Stop()
	rescan := time.NewTicker(homeRescan)
	defer rescan.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-hw.w.Events:
			if !ok {
				return
			}
			switch parent := filepath.Dir(ev.Name); {
			case ev.Name == opFile:
				if ev.Has(fsnotify.Write) || ev.Has(fsnotify.Create) {
					hw.n.log.Warn("the home's operator JWT changed: restart this server to trust its new keys", "file", opFile)
				}
			case parent == accounts:
				if ev.Has(fsnotify.Create) {
					if fi, err := os.Stat(ev.Name); err == nil && fi.IsDir() {
						_ = hw.w.Add(ev.Name)
					}
				}
				hw.mark(filepath.Base(ev.Name))
			case filepath.Dir(parent) == accounts:
				hw.mark(filepath.Base(parent))
			}
		case err, ok := <-hw.w.Errors:
			if !ok {
				return
			}
			hw.n.log.Warn("home watch", "error", err)
			hw.markAll()
		case <-tick.C:
			for _, name := range hw.due() {
				hw.process(ctx, name)
			}
		case <-rescan.C:
			hw.markAll()
		}
	}
}

// markAll queues every account of the home and every account seen before.
func (hw *homeWatch) markAll() {
	entries, _ := os.ReadDir(hw.home.AccountsDir())
	hw.mu.Lock()
	defer hw.mu.Unlock()
	for _, e := range entries {
		if e.IsDir() {
			hw.pending[e.Name()] = time.Time{}
		}
	}
	for name := range hw.known {
		hw.pending[name] = time.Time{}
	}
}

// due takes the accounts whose files have been quiet long enough.
func (hw *homeWatch) due() []string {
	hw.mu.Lock()
	defer hw.mu.Unlock()
	var out []string
	for name, at := range hw.pending {
		if time.Since(at) >= homeSettle {
			out = append(out, name)
			delete(hw.pending, name)
		}
	}
	return out
}

// process brings the node up to date with the home's JWT of one account:
// stored (validated, newer-only) and applied, or removed when the account
// directory is gone; then acknowledged.
func (hw *homeWatch) process(ctx context.Context, name string) {
	if authority.CheckName("account", name) != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, homeTimeout)
	defer cancel()
	prev, had := hw.known[name]
	raw, err := os.ReadFile(hw.home.AccountJWTPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := os.Stat(filepath.Join(hw.home.AccountsDir(), name)); !errors.Is(err, fs.ErrNotExist) || !had {
			return // a write in progress, or nothing we served
		}
		delete(hw.known, name)
		if prev.pub == hw.n.opts.SystemAccount {
			hw.n.log.Warn("the system account was removed from the home; it stays", "account", name)
			return
		}
		err := hw.n.resolver.Unpublish(ctx, prev.pub)
		hw.ack(prev.pub, serving.Deleted, err)
		if err == nil {
			hw.n.log.Info("account removed from the home: deleted from the store", "account", name, "pub", prev.pub)
		}
		return
	}
	if err != nil {
		hw.n.log.Warn("home watch: read account", "account", name, "error", err)
		return
	}
	tok := strings.TrimSpace(string(raw))
	fp := serving.Fingerprint(tok)
	if had && prev.fp == fp && prev.acked {
		return
	}
	ac, err := jwt.DecodeAccountClaims(tok)
	if err != nil {
		return // partly written by a tool that writes in place: the next event brings the rest
	}
	hw.known[name] = seen{pub: ac.Subject, fp: fp, acked: true}
	ch, err := hw.n.resolver.Publish(ctx, ac.Subject, tok)
	if errors.Is(err, store.ErrReadOnly) {
		ch, err = hw.postToAccountServer(ctx, ac.Subject, tok)
	}
	if errors.Is(err, store.ErrStale) {
		err = fmt.Errorf("the store %s holds a newer JWT of account %s than the home: %w", store.Redact(hw.n.storeURL), name, err)
	}
	hw.ack(ac.Subject, fp, err)
	if err != nil {
		hw.n.log.Error("home watch: a change of the home was not applied", "account", name, "error", err)
		return
	}
	hw.n.log.Info("applied a change of the home", "account", name, "pub", ac.Subject, "store", ch.String())
}

// postToAccountServer publishes a home change for a node whose store is
// an account server read over HTTP (a conf file's URL resolver): it POSTs
// the JWT there, where it is validated like every write, and applies it.
func (hw *homeWatch) postToAccountServer(ctx context.Context, pub, tok string) (store.Change, error) {
	u, err := url.Parse(hw.n.storeURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return store.Unchanged, fmt.Errorf("the store %s is read-only: publish the home there with natsauth push: %w",
			store.Redact(hw.n.storeURL), store.ErrReadOnly)
	}
	u.RawQuery = ""
	as, err := claims.NewAccountServer(u.String(), &http.Client{Timeout: homeTimeout})
	if err != nil {
		return store.Unchanged, err
	}
	r, err := as.Post(ctx, pub, tok)
	if err != nil {
		return store.Unchanged, err
	}
	if !r.OK() {
		return store.Unchanged, fmt.Errorf("account server %s refused the home's JWT: %s (%d)", as.URL(), r.Message, r.Code)
	}
	return store.Updated, hw.n.resolver.Apply(pub, tok)
}

func (hw *homeWatch) ack(pub, fp string, err error) {
	a := serving.Ack{JWT: fp}
	if err != nil {
		a.Err = err.Error()
	}
	if aerr := hw.reg.Ack(pub, a); aerr != nil {
		hw.n.log.Warn("home watch: acknowledge", "account", pub, "error", aerr)
	}
}
