package serving

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/natsauth/natsauth/trust"
)

// RunDir is the registry's directory in a home.
const RunDir = "run"

// Heartbeat timing: a node touches its entry every HeartbeatEvery; an
// entry untouched for StaleAfter is a node that is gone.
var (
	HeartbeatEvery = 2 * time.Second
	StaleAfter     = 10 * time.Second
)

// Server is one running node registered in a home.
type Server struct {
	ID         string    `json:"id"`
	Home       string    `json:"home"` // the home it serves (a copied home holds a copied registry)
	PID        int       `json:"pid"`
	Host       string    `json:"host"`
	Started    time.Time `json:"started"`
	Store      string    `json:"store"` // the URL it reads account JWTs from (may hold a password)
	StoreFrom  Source    `json:"store_from"`
	ClientURL  string    `json:"client_url,omitempty"`
	ConfigFile string    `json:"config_file,omitempty"`
	// WatchesHome says the node applies changes to the home's account
	// files itself and acknowledges each one.
	WatchesHome bool `json:"watches_home"`
}

// Label names the server for messages.
func (s Server) Label() string {
	l := fmt.Sprintf("serve pid %d", s.PID)
	if h, _ := os.Hostname(); s.Host != "" && s.Host != h {
		l += " on " + s.Host
	}
	if s.ClientURL != "" {
		l += " (" + s.ClientURL + ")"
	}
	return l
}

// Ack is a node's acknowledgement of one change of an account in the home.
type Ack struct {
	// JWT is the Fingerprint of the home's JWT the node processed, or
	// Deleted.
	JWT string `json:"jwt"`
	// Err is empty when the node holds that JWT (or a newer one) in its
	// store and runs it; otherwise why it does not.
	Err string    `json:"error,omitempty"`
	At  time.Time `json:"at"`
}

// Registration is a node's entry in a home's registry.
type Registration struct {
	id        string
	dir, path string
	stop      chan struct{}
	wg        sync.WaitGroup
	once      sync.Once
}

func runDir(home string) string { return filepath.Join(home, RunDir) }

// Register records s in the home's registry and keeps its heartbeat until
// Close. s.ID, PID, Host and Started are filled in when empty.
func Register(home string, s Server) (*Registration, error) {
	if s.PID == 0 {
		s.PID = os.Getpid()
	}
	s.Home = home
	if s.Host == "" {
		s.Host, _ = os.Hostname()
	}
	if s.Started.IsZero() {
		s.Started = time.Now().UTC()
	}
	if s.ID == "" {
		s.ID = fmt.Sprintf("%d-%d", s.PID, s.Started.UnixNano())
	}
	if strings.ContainsAny(s.ID, `/\.`) {
		return nil, fmt.Errorf("serving: register: bad id %q", s.ID)
	}
	dir := runDir(home)
	if err := os.MkdirAll(filepath.Join(dir, s.ID), 0o700); err != nil {
		return nil, fmt.Errorf("serving: register: %w", err)
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("serving: register: %w", err)
	}
	r := &Registration{id: s.ID, dir: filepath.Join(dir, s.ID), path: filepath.Join(dir, s.ID+".json"), stop: make(chan struct{})}
	if err := writeFile(r.path, b); err != nil {
		return nil, fmt.Errorf("serving: register: %w", err)
	}
	r.wg.Add(1)
	go r.heartbeat()
	return r, nil
}

func (r *Registration) heartbeat() {
	defer r.wg.Done()
	t := time.NewTicker(HeartbeatEvery)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			now := time.Now()
			_ = os.Chtimes(r.path, now, now)
		}
	}
}

// ID is the entry's id.
func (r *Registration) ID() string { return r.id }

// Ack records that the node processed the home's JWT of account.
func (r *Registration) Ack(account string, a Ack) error {
	if err := trust.CheckAccountKey(account); err != nil {
		return fmt.Errorf("serving: ack: %w", err)
	}
	if a.At.IsZero() {
		a.At = time.Now().UTC()
	}
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(r.dir, account), b); err != nil {
		return fmt.Errorf("serving: ack: %w", err)
	}
	return nil
}

// Close removes the entry and its acknowledgements.
func (r *Registration) Close() error {
	r.once.Do(func() { close(r.stop) })
	r.wg.Wait()
	err := os.Remove(r.path)
	_ = os.RemoveAll(r.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// List returns the live servers registered in home, oldest first. Entries
// of nodes that are gone (their process ended, or no heartbeat for
// StaleAfter) are removed.
func List(home string) ([]Server, error) {
	dir := runDir(home)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("serving: list servers: %w", err)
	}
	host, _ := os.Hostname()
	var out []Server
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var s Server
		if json.Unmarshal(raw, &s) != nil || s.ID != name || s.Home != home {
			continue // not an entry, or one copied along with the home
		}
		gone := time.Since(fi.ModTime()) > StaleAfter || (s.Host == host && !processAlive(s.PID))
		if gone {
			_ = os.Remove(p)
			_ = os.RemoveAll(filepath.Join(dir, name))
			continue
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, nil
}

// ErrGone means a server stopped while a front door waited for it.
var ErrGone = errors.New("serving: the server is no longer running")

// WaitAck waits until server s acknowledges the JWT with the given
// fingerprint (or Deleted) for account, and returns the acknowledgement.
// It fails when ctx ends first or the server goes away.
func WaitAck(ctx context.Context, home string, s Server, account, fingerprint string) (Ack, error) {
	p := filepath.Join(runDir(home), s.ID, account)
	entry := filepath.Join(runDir(home), s.ID+".json")
	wait := 2 * time.Millisecond
	for {
		if raw, err := os.ReadFile(p); err == nil {
			var a Ack
			if json.Unmarshal(raw, &a) == nil && a.JWT == fingerprint {
				return a, nil
			}
		}
		if _, err := os.Stat(entry); errors.Is(err, fs.ErrNotExist) {
			return Ack{}, ErrGone
		}
		select {
		case <-ctx.Done():
			return Ack{}, ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Millisecond)
	}
}

// writeFile replaces path with data (0600) atomically.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return nil
}
