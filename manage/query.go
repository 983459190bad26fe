package manage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/natsauth/natsauth/authority"
)

// IndexMaxAge is how old the account index may get before a query
// refreshes it in the background. Changes made through this Manager are in
// the index at once; changes made elsewhere (another process, nsc) within
// IndexMaxAge plus one rescan.
var IndexMaxAge = 3 * time.Second

// AccountSummary is one account in a list: what a table row shows.
type AccountSummary struct {
	Name        string   `json:"name"`
	Pub         string   `json:"pub"`
	System      bool     `json:"system,omitempty"`
	Description string   `json:"description,omitempty"`
	Tags        []string `json:"tags,omitempty"`
	// Limits, -1 unlimited.
	Conns   int64 `json:"max_connections"`
	Payload int64 `json:"max_payload"`
	Subs    int64 `json:"max_subscriptions"`
	Data    int64 `json:"max_data"`
	// JetStream says the account has JetStream limits.
	JetStream bool `json:"jetstream"`
	// Revocations is the number of revoked users.
	Revocations int `json:"revocations"`
	// SigningKeys is the number of signing keys.
	SigningKeys int `json:"signing_keys"`
	// Expires is the account JWT's expiry (zero: never).
	Expires time.Time `json:"expires,omitzero"`
	// IssuedAt is when the account JWT was signed.
	IssuedAt time.Time `json:"issued_at"`
}

// AccountQuery selects a page of accounts.
type AccountQuery struct {
	// Search keeps accounts whose name, public key, description or a tag
	// contains it (case-insensitive).
	Search string
	// Offset and Limit select the page (Limit 0: 50, at most 500).
	Offset, Limit int
}

// AccountPage is one page of accounts, sorted by name.
type AccountPage struct {
	Total    int              `json:"total"` // accounts matching the search
	Offset   int              `json:"offset"`
	Limit    int              `json:"limit"`
	Accounts []AccountSummary `json:"accounts"`
}

// QueryAccounts returns one page of the home's accounts. It reads an index
// kept in memory, so it stays fast with tens of thousands of accounts.
func (m *Manager) QueryAccounts(ctx context.Context, q AccountQuery) (*AccountPage, error) {
	ix := m.accountIndex()
	entries, err := ix.snapshot(ctx, m.home)
	if err != nil {
		return nil, err
	}
	q.Limit = cmp.Or(q.Limit, 50)
	q.Limit = min(max(q.Limit, 1), 500)
	q.Offset = max(q.Offset, 0)
	page := &AccountPage{Offset: q.Offset, Limit: q.Limit, Accounts: []AccountSummary{}}
	needle := strings.ToLower(strings.TrimSpace(q.Search))
	for i := range entries {
		s := &entries[i].sum
		if needle != "" && !strings.Contains(entries[i].text, needle) {
			continue
		}
		if page.Total >= q.Offset && len(page.Accounts) < q.Limit {
			page.Accounts = append(page.Accounts, *s)
		}
		page.Total++
	}
	return page, nil
}

// Summarize is the list row of one account.
func Summarize(a *authority.AccountInfo) AccountSummary {
	c := a.Claims
	s := AccountSummary{Name: a.Name, Pub: a.Pub, System: a.System, Description: c.Description,
		Tags: append([]string(nil), c.Tags...), Conns: c.Limits.Conn, Payload: c.Limits.Payload,
		Subs: c.Limits.Subs, Data: c.Limits.Data, JetStream: c.Limits.IsJSEnabled(),
		Revocations: len(c.Revocations), SigningKeys: len(c.SigningKeys),
		IssuedAt: time.Unix(c.IssuedAt, 0).UTC()}
	if c.Expires > 0 {
		s.Expires = time.Unix(c.Expires, 0).UTC()
	}
	return s
}

// accountIndex keeps a summary of every account of the home, refreshed by
// stat: only account files whose size or modification time changed are
// read again.
type accountIndex struct {
	mu      sync.Mutex
	entries []indexEntry // sorted by name
	at      time.Time    // last full scan
	dirty   map[string]bool
	running bool // a background rescan runs
	wg      sync.WaitGroup
	closed  bool
}

type indexEntry struct {
	name  string
	mod   time.Time
	size  int64
	sum   AccountSummary
	text  string // lower-case search text
	valid bool
}

var indexes sync.Map // *Manager → *accountIndex

func (m *Manager) accountIndex() *accountIndex {
	ix, _ := indexes.LoadOrStore(m, &accountIndex{dirty: map[string]bool{}})
	return ix.(*accountIndex)
}

// noteChanged marks accounts a change through this Manager touched, so
// the next query reads them again whatever the age of the index.
func (m *Manager) noteChanged(names ...string) {
	v, ok := indexes.Load(m)
	if !ok {
		return
	}
	ix := v.(*accountIndex)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, n := range names {
		ix.dirty[n] = true
	}
}

// closeIndex waits for a background rescan and forgets the index.
func (m *Manager) closeIndex() {
	v, ok := indexes.LoadAndDelete(m)
	if !ok {
		return
	}
	ix := v.(*accountIndex)
	ix.mu.Lock()
	ix.closed = true
	ix.mu.Unlock()
	ix.wg.Wait()
}

// snapshot returns the current entries: a full scan the first time, then
// the dirty accounts read again at once and a background rescan when the
// index is older than IndexMaxAge.
func (ix *accountIndex) snapshot(ctx context.Context, h *authority.Home) ([]indexEntry, error) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if ix.at.IsZero() {
		entries, err := scanAccounts(ctx, h, nil)
		if err != nil {
			return nil, err
		}
		ix.entries, ix.at, ix.dirty = entries, time.Now(), map[string]bool{}
		return ix.entries, nil
	}
	if len(ix.dirty) > 0 {
		ix.entries = refreshNames(h, ix.entries, ix.dirty)
		ix.dirty = map[string]bool{}
	}
	if time.Since(ix.at) > IndexMaxAge && !ix.running && !ix.closed {
		ix.running = true
		ix.wg.Add(1)
		prev := ix.entries
		go func() {
			defer ix.wg.Done()
			entries, err := scanAccounts(context.Background(), h, prev)
			ix.mu.Lock()
			defer ix.mu.Unlock()
			ix.running = false
			if err == nil {
				// Accounts changed through the Manager meanwhile stay dirty
				// and are read again by the next query.
				ix.entries, ix.at = entries, time.Now()
			}
		}()
	}
	return ix.entries, nil
}

// scanAccounts lists the accounts directory, reading only the account
// files that are new or changed since prev.
func scanAccounts(ctx context.Context, h *authority.Home, prev []indexEntry) ([]indexEntry, error) {
	dir := filepath.Join(h.StoresDir(), h.OperatorName(), "accounts")
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	old := make(map[string]*indexEntry, len(prev))
	for i := range prev {
		old[prev[i].name] = &prev[i]
	}
	out := make([]indexEntry, 0, len(des))
	var toRead []indexEntry // new or changed: name, mod and size set
	for i, de := range des {
		if i%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if !de.IsDir() || authority.CheckName("account", de.Name()) != nil {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, de.Name(), de.Name()+".jwt"))
		if err != nil {
			continue // not an account directory (or being removed)
		}
		if o := old[de.Name()]; o != nil && o.valid && o.mod.Equal(fi.ModTime()) && o.size == fi.Size() {
			out = append(out, *o)
			continue
		}
		toRead = append(toRead, indexEntry{name: de.Name(), mod: fi.ModTime(), size: fi.Size()})
	}
	out = append(out, readEntries(h, toRead)...)
	slices.SortFunc(out, func(a, b indexEntry) int { return strings.Compare(a.name, b.name) })
	return out, nil
}

// readEntries reads accounts in parallel (decoding verifies each JWT's
// signature, the bulk of a first scan); unreadable ones are left out.
func readEntries(h *authority.Home, todo []indexEntry) []indexEntry {
	workers := min(runtime.GOMAXPROCS(0)*2, len(todo), 8)
	if workers <= 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(todo); i += workers {
				if e, ok := readEntry(h, todo[i].name); ok {
					e.mod, e.size = todo[i].mod, todo[i].size
					todo[i] = e
				}
			}
		}(w)
	}
	wg.Wait()
	out := todo[:0]
	for _, e := range todo {
		if e.valid {
			out = append(out, e)
		}
	}
	return out
}

// WarmIndex builds the account index now, so that the first QueryAccounts
// does not pay for reading every account (seconds with tens of thousands).
func (m *Manager) WarmIndex(ctx context.Context) error {
	_, err := m.accountIndex().snapshot(ctx, m.home)
	return err
}

// refreshNames reads the named accounts again (dropping deleted ones).
func refreshNames(h *authority.Home, entries []indexEntry, names map[string]bool) []indexEntry {
	out := entries[:0:0]
	for _, e := range entries {
		if !names[e.name] {
			out = append(out, e)
		}
	}
	dir := filepath.Join(h.StoresDir(), h.OperatorName(), "accounts")
	for n := range names {
		fi, err := os.Stat(filepath.Join(dir, n, n+".jwt"))
		if err != nil {
			continue
		}
		if e, ok := readEntry(h, n); ok {
			e.mod, e.size = fi.ModTime(), fi.Size()
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b indexEntry) int { return strings.Compare(a.name, b.name) })
	return out
}

func readEntry(h *authority.Home, name string) (indexEntry, bool) {
	a, err := h.Account(name)
	if err != nil {
		return indexEntry{}, false
	}
	s := Summarize(a)
	text := strings.ToLower(strings.Join(append([]string{s.Name, s.Pub, s.Description}, s.Tags...), "\x00"))
	return indexEntry{name: name, sum: s, text: text, valid: true}, true
}

// UserSummary is one user in a list.
type UserSummary struct {
	Name    string    `json:"name"`
	Pub     string    `json:"pub"`
	Account string    `json:"account"`
	Expires time.Time `json:"expires,omitzero"`
	// ExpiresSoon says the user JWT expires within the ExpiringWithin of
	// the query.
	ExpiresSoon bool      `json:"expires_soon,omitempty"`
	Expired     bool      `json:"expired,omitempty"`
	Revoked     bool      `json:"revoked,omitempty"`
	Bearer      bool      `json:"bearer,omitempty"`
	IssuedAt    time.Time `json:"issued_at"`
	// Signer is the key that signed the user JWT.
	Signer string `json:"signer"`
	// HasCreds says the home keeps the user's seed and creds file.
	HasCreds bool `json:"has_creds"`
}

// UserQuery selects a page of one account's users.
type UserQuery struct {
	Search        string // name or public key contains it
	Offset, Limit int    // Limit 0: 50, at most 500
	// ExpiringWithin marks users expiring within it (default 7 days).
	ExpiringWithin time.Duration
}

// UserPage is one page of users, sorted by name.
type UserPage struct {
	Total  int           `json:"total"`
	Offset int           `json:"offset"`
	Limit  int           `json:"limit"`
	Users  []UserSummary `json:"users"`
}

// QueryUsers returns one page of an account's users.
func (m *Manager) QueryUsers(ctx context.Context, account string, q UserQuery) (*UserPage, error) {
	acc, err := m.home.Account(account)
	if err != nil {
		return nil, err
	}
	users, err := m.home.Users(account)
	if err != nil {
		return nil, err
	}
	q.Limit = min(max(cmp.Or(q.Limit, 50), 1), 500)
	q.Offset = max(q.Offset, 0)
	within := cmp.Or(q.ExpiringWithin, 7*24*time.Hour)
	needle := strings.ToLower(strings.TrimSpace(q.Search))
	now := time.Now()
	page := &UserPage{Offset: q.Offset, Limit: q.Limit, Users: []UserSummary{}}
	for i := range users {
		u := &users[i]
		if needle != "" && !strings.Contains(strings.ToLower(u.Name), needle) && !strings.Contains(strings.ToLower(u.Pub), needle) {
			continue
		}
		if page.Total >= q.Offset && len(page.Users) < q.Limit {
			page.Users = append(page.Users, SummarizeUser(acc, u, now, within, m.hasCreds(u)))
		}
		page.Total++
	}
	return page, ctx.Err()
}

// SummarizeUser is the list row of one user at now.
func SummarizeUser(acc *authority.AccountInfo, u *authority.UserInfo, now time.Time, within time.Duration, hasCreds bool) UserSummary {
	s := UserSummary{Name: u.Name, Pub: u.Pub, Account: u.Account, Revoked: acc.IsRevoked(u),
		Bearer: u.Claims.BearerToken, IssuedAt: time.Unix(u.Claims.IssuedAt, 0).UTC(), Signer: u.Claims.Issuer,
		HasCreds: hasCreds}
	if u.Claims.Expires > 0 {
		s.Expires = time.Unix(u.Claims.Expires, 0).UTC()
		s.Expired = !s.Expires.After(now)
		s.ExpiresSoon = !s.Expired && s.Expires.Before(now.Add(within))
	}
	return s
}

func (m *Manager) hasCreds(u *authority.UserInfo) bool {
	_, err := os.Stat(m.home.CredsPath(u.Account, u.Name))
	return err == nil
}

// accountNames are the accounts a change published or removed.
func (c *change) accountNames() []string {
	var out []string
	for _, a := range append(append([]authority.AccountInfo{}, c.publish...), c.unpublish...) {
		out = append(out, a.Name)
	}
	return out
}

// AccountName returns the name of the account with public key pub from
// the account index ("" when there is none), without reading every
// account as authority.Home.AccountByPub does.
func (m *Manager) AccountName(ctx context.Context, pub string) string {
	entries, err := m.accountIndex().snapshot(ctx, m.home)
	if err != nil {
		return ""
	}
	for i := range entries {
		if entries[i].sum.Pub == pub {
			return entries[i].name
		}
	}
	return ""
}
