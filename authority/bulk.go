package authority

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
	"github.com/natsauth/natsauth/internal/jwtpeek"
)

// Bulk reads and writes for Reconcile, which looks at and may change every
// account and user of a home at once (tens of thousands of files).

// parallel runs f(0..n-1) on up to GOMAXPROCS goroutines.
func parallel(n int, f func(i int)) { parallelN(n, runtime.GOMAXPROCS(0), f) }

// ioWorkers is how many goroutines write files at once: file system calls
// wait on the disk as much as they use a processor.
const ioWorkers = 8

// parallelN runs f(0..n-1) on up to workers goroutines.
func parallelN(n, workers int, f func(i int)) {
	workers = min(workers, n)
	if workers <= 1 {
		for i := range n {
			f(i)
		}
		return
	}
	var next sync.Mutex
	i := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				j := i
				i++
				next.Unlock()
				if j >= n {
					return
				}
				f(j)
			}
		})
	}
	wg.Wait()
}

// decodeUnverified decodes a JWT's claims into v without checking its
// signature. Reconcile reads the home's own files this way: checking a
// signature says nothing about who wrote a file (whoever can write the
// home can re-sign it) and costs far more than the decoding, while every
// JWT the home publishes is checked by the trust policy on its way to a
// store.
func decodeUnverified(tok string, v any) error {
	raw, err := jwtpeek.Payload(tok)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("JWT payload: %w", err)
	}
	return nil
}

// snapshot is every account of the home (the system account included) and,
// when read with users, every user.
type snapshot struct {
	accounts []*AccountInfo // by name
	byName   map[string]*AccountInfo
	byPub    map[string]*AccountInfo
	users    map[string][]*UserInfo // by account name, each by user name
	// payload holds the JSON claims of users whose Claims are not decoded
	// yet (see claims), and their header: most users of a large home are
	// only compared.
	payload map[*UserInfo]lazyClaims
}

// lazyClaims are a user's claims as stored, not decoded yet.
type lazyClaims struct {
	json []byte
	hdr  jwtpeek.Header
}

// claims decodes u's claims if they are not yet. Users of one account are
// only ever touched by one goroutine at a time.
func (s *snapshot) claims(u *UserInfo) (*jwt.UserClaims, error) {
	if u.Claims != nil {
		return u.Claims, nil
	}
	uc := &jwt.UserClaims{}
	if err := json.Unmarshal(s.payload[u].json, uc); err != nil {
		return nil, fmt.Errorf("read user %s of %s: JWT payload: %w", u.Name, u.Account, err)
	}
	u.Claims = uc
	return uc, nil
}

// readSnapshot reads the home's accounts (and users) in parallel, without
// checking signatures (see decodeUnverified). The caller holds the lock.
func (h *Home) readSnapshot(withUsers bool) (*snapshot, error) {
	entries, err := os.ReadDir(h.accountsDir())
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && CheckName("account", e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	accs := make([]*AccountInfo, len(names))
	users := make([][]*UserInfo, len(names))
	payloads := make([][]lazyClaims, len(names))
	errs := make([]error, len(names))
	parallel(len(names), func(i int) {
		accs[i], users[i], payloads[i], errs[i] = h.readAccountFast(names[i], withUsers)
	})
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	s := &snapshot{byName: map[string]*AccountInfo{}, byPub: map[string]*AccountInfo{}, users: map[string][]*UserInfo{},
		payload: map[*UserInfo]lazyClaims{}}
	for i := range users {
		for j, u := range users[i] {
			if u.Claims == nil {
				s.payload[u] = payloads[i][j]
			}
		}
	}
	for i, a := range accs {
		if a == nil {
			continue // a directory without an account JWT
		}
		s.accounts = append(s.accounts, a)
		s.byName[a.Name], s.byPub[a.Pub] = a, a
		s.users[a.Name] = users[i]
	}
	sort.Slice(s.accounts, func(i, j int) bool { return s.accounts[i].Name < s.accounts[j].Name })
	return s, nil
}

// readAccountFast reads one account and, withUsers, its users; nil when
// the directory holds no account JWT. A user's claims are left to decode
// (payloads, see snapshot.claims) when its header says who it is.
func (h *Home) readAccountFast(name string, withUsers bool) (*AccountInfo, []*UserInfo, []lazyClaims, error) {
	tok, err := readJWT(h.accountJWTPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, nil
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read account %s: %w", name, err)
	}
	ac := &jwt.AccountClaims{}
	if err := decodeUnverified(tok, ac); err != nil {
		return nil, nil, nil, fmt.Errorf("read account %s: %s: %w", name, h.accountJWTPath(name), err)
	}
	acc := &AccountInfo{Name: name, Pub: ac.Subject, JWT: tok, Claims: ac, System: ac.Subject == h.opClaims.SystemAccount}
	if !withUsers {
		return acc, nil, nil, nil
	}
	usersDir := h.usersDir(name)
	var names []string
	files, err := openDirFiles(usersDir)
	if err == nil {
		defer files.Close()
		names, err = files.names()
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil, fmt.Errorf("list users of %s: %w", name, err)
	}
	var users []*UserInfo
	var payloads []lazyClaims
	for _, fn := range names {
		un, ok := strings.CutSuffix(fn, ".jwt")
		if !ok || CheckName("user", un) != nil {
			continue
		}
		p := usersDir + string(filepath.Separator) + fn // = userJWTPath, without cleaning it again
		tok, err := files.readJWT(fn)
		if errors.Is(err, syscall.EISDIR) {
			continue // a directory named like a user's JWT is not one
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read user %s of %s: %w", un, name, err)
		}
		u := &UserInfo{Account: name, AccountPub: acc.Pub, Name: un, JWT: tok}
		payload, err := jwtpeek.Payload(tok)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("read user %s: %s: %w", un, p, err)
		}
		hdr, ok := jwtpeek.Scan(payload)
		if ok && hdr.Subject != "" {
			u.Pub = hdr.Subject
		} else {
			uc := &jwt.UserClaims{}
			if err := json.Unmarshal(payload, uc); err != nil {
				return nil, nil, nil, fmt.Errorf("read user %s: %s: JWT payload: %w", un, p, err)
			}
			u.Pub, u.Claims = uc.Subject, uc
		}
		users = append(users, u)
		payloads = append(payloads, lazyClaims{json: payload, hdr: hdr})
	}
	idx := make([]int, len(users))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(i, j int) bool { return users[idx[i]].Name < users[idx[j]].Name })
	su, sp := make([]*UserInfo, len(users)), make([]lazyClaims, len(users))
	for i, k := range idx {
		su[i], sp[i] = users[k], payloads[k]
	}
	return acc, su, sp, nil
}

// bulkThreshold is the number of steps from which a transaction commits
// in bulk: files written in parallel and made durable with one sync of the
// file system instead of two fsyncs each.
const bulkThreshold = 64

// commitBulk applies the steps like commit, for many files at once: every
// new content is written to a temporary file beside its target (in
// parallel), the file system is synced once, the temporary files are
// renamed over their targets and removals done, and the file system is
// synced again. A failure before the renames removes the temporary files
// and leaves the home as it was; a failure during them undoes the renames
// and removals already done, as commit does.
func (t *txn) commitBulk() (err error) {
	if len(t.ops) < bulkThreshold || !canSyncFS {
		return t.commit()
	}
	t.cleanStale()
	type staged struct {
		tmp     string
		old     []byte
		existed bool
	}
	st := make([]staged, len(t.ops))
	var undoDirs []string
	defer func() {
		if err == nil {
			return
		}
		for _, s := range st {
			if s.tmp != "" {
				_ = os.Remove(s.tmp)
			}
		}
		for i := len(undoDirs) - 1; i >= 0; i-- {
			_ = os.Remove(undoDirs[i])
		}
	}()
	// Directories first, once each, outermost first.
	dirs := map[string]bool{}
	var dirList []string
	for _, o := range t.ops {
		if d := filepath.Dir(o.path); !o.remove && !dirs[d] {
			dirs[d] = true
			dirList = append(dirList, d)
		}
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		created, err := mkdirs(d)
		undoDirs = append(undoDirs, created...)
		if err != nil {
			return err
		}
	}
	errs := make([]error, len(t.ops))
	parallelN(len(t.ops), ioWorkers, func(i int) {
		o := t.ops[i]
		old, rerr := os.ReadFile(o.path)
		switch {
		case rerr == nil:
			st[i].old, st[i].existed = old, true
		case !errors.Is(rerr, fs.ErrNotExist):
			errs[i] = fmt.Errorf("read %s: %w", o.path, rerr)
			return
		}
		if o.remove {
			return
		}
		st[i].tmp, errs[i] = writeTemp(o.path, o.data)
	})
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if err := syncFS(filepath.Dir(t.ops[0].path)); err != nil {
		return err
	}
	var undo []func()
	defer func() {
		if err != nil {
			for i := len(undo) - 1; i >= 0; i-- {
				undo[i]()
			}
		}
	}()
	for i, o := range t.ops {
		s := st[i]
		restore := func() { _ = os.Remove(o.path) }
		if s.existed {
			restore = func() { _ = writeAtomic(o.path, s.old) }
		}
		if o.remove {
			if !s.existed {
				continue
			}
			if err := os.Remove(o.path); err != nil {
				return fmt.Errorf("remove %s: %w", o.path, err)
			}
			undo = append(undo, restore)
			continue
		}
		if err := os.Rename(s.tmp, o.path); err != nil {
			return fmt.Errorf("write %s: %w", o.path, err)
		}
		st[i].tmp = ""
		undo = append(undo, restore)
	}
	return syncFS(filepath.Dir(t.ops[0].path))
}

// writeTemp writes data to a new temporary file (0600) beside path, named
// as fsx.WriteFile names its own (so that a killed writer's leftovers are
// found and cleaned the same way), and returns its name.
func writeTemp(path string, data []byte) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name() // created 0600 (fileMode)
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(name)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return name, nil
}

// fastKey is a key pair that derives its ed25519 private key once: nkeys
// derives it from the seed at every signature, which would dominate
// signing a hundred thousand users with one key.
type fastKey struct {
	nkeys.KeyPair
	priv ed25519.PrivateKey
}

// newFastKey wraps kp; kp itself when its private key cannot be had.
func newFastKey(kp nkeys.KeyPair) nkeys.KeyPair {
	enc, err := kp.PrivateKey()
	if err != nil {
		return kp
	}
	raw, err := nkeys.Decode(nkeys.PrefixBytePrivate, enc)
	if err != nil || len(raw) != ed25519.PrivateKeySize {
		return kp
	}
	return &fastKey{KeyPair: kp, priv: ed25519.PrivateKey(raw)}
}

// Sign signs input with the derived private key.
func (k *fastKey) Sign(input []byte) ([]byte, error) { return ed25519.Sign(k.priv, input), nil }

// userCreds is formatCreds for a user JWT just signed for kp's public key:
// the same file, without decoding the JWT again and re-deriving the key
// to check what was just made so.
func userCreds(tok string, kp nkeys.KeyPair) ([]byte, error) {
	seed, err := kp.Seed()
	if err != nil {
		return nil, fmt.Errorf("format creds: %w", err)
	}
	dec, err := jwt.DecorateSeed(seed)
	if err != nil {
		return nil, fmt.Errorf("format creds: %w", err)
	}
	out := make([]byte, 0, len(tok)+len(dec)+80)
	out = append(out, "-----BEGIN NATS USER JWT-----\n"...)
	out = append(out, tok...)
	out = append(out, "\n------END NATS USER JWT------\n\n"...)
	return append(out, dec...), nil
}

// Snapshot returns every account of the home (the system account
// included, by name) and the users of each (by account name, each by user
// name), read at once in parallel. Unlike Accounts and Users it does not
// check the files' signatures (see decodeUnverified): it is for reading a
// whole home fast — exporting it, comparing it with a file or a store.
func (h *Home) Snapshot() ([]AccountInfo, map[string][]UserInfo, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	s, err := h.readSnapshot(true)
	if err != nil {
		return nil, nil, err
	}
	errs := make([]error, len(s.accounts))
	parallel(len(s.accounts), func(i int) {
		for _, u := range s.users[s.accounts[i].Name] {
			if _, err := s.claims(u); err != nil {
				errs[i] = err
				return
			}
		}
	})
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	accs := make([]AccountInfo, len(s.accounts))
	users := make(map[string][]UserInfo, len(s.accounts))
	for i, a := range s.accounts {
		accs[i] = *a
		us := make([]UserInfo, len(s.users[a.Name]))
		for j, u := range s.users[a.Name] {
			us[j] = *u
		}
		users[a.Name] = us
	}
	return accs, users, nil
}

// HasSeed reports whether the keystore holds the seed of the key pub (a
// key the home generated, or was given).
func (h *Home) HasSeed(pub string) bool { return h.hasKey(pub) }

// CredsFor returns the creds file content of u (as Reconcile or Users
// returned it), from its JWT and the seed in the keystore, without
// reading the user's files again.
func (h *Home) CredsFor(u *UserInfo) ([]byte, error) {
	kp, err := h.readKey(u.Pub)
	if err != nil {
		return nil, fmt.Errorf("creds for user %s: %w", u.Name, err)
	}
	return formatCreds(u.JWT, kp)
}
