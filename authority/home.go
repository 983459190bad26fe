// Package authority keeps a NATS operator, its accounts and users in an
// nsc-compatible home directory and signs their JWTs.
//
// A home holds one operator in nsc's layout, so that
// `nsc --data-dir HOME/stores --keystore-dir HOME/keys` reads the same files:
//
//	HOME/stores/<Op>/.nsc
//	HOME/stores/<Op>/<Op>.jwt
//	HOME/stores/<Op>/accounts/<Acc>/<Acc>.jwt
//	HOME/stores/<Op>/accounts/<Acc>/users/<user>.jwt
//	HOME/keys/keys/<O|A|U>/<chars 2-3 of the key>/<PUBLIC KEY>.nk   (seeds)
//	HOME/keys/creds/<Op>/<Acc>/<user>.creds
//
// Seeds, creds and JWTs are written 0600 in 0700 directories. Every
// mutation checks all its input first and writes nothing when any of it is
// wrong; its writes are atomic (temporary file, fsync, rename) and rolled
// back if one fails, and an flock on HOME/.natsauth.lock serializes
// concurrent natsauth processes on one home.
//
// Accounts are signed by an operator signing key; users by their account's
// signing key when it has one (a scoped key gives them its template), else
// by the account's identity key. Signing keys rotate in resumable steps
// (see Rotation).
package authority

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

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/trust"
)

// Home is an opened natsauth home: one operator with its accounts and
// users. Its methods may be called from several goroutines.
type Home struct {
	dir      string
	op       string // operator name
	opJWT    string
	opClaims *jwt.OperatorClaims
}

// AccountInfo is one account of the home.
type AccountInfo struct {
	Name   string
	Pub    string // account public key (the JWT subject)
	JWT    string
	Claims *jwt.AccountClaims
	System bool // the operator's system account
}

// UserInfo is one user of an account.
type UserInfo struct {
	Account    string // account name
	AccountPub string // account public key
	Name       string
	Pub        string // user public key (the JWT subject)
	JWT        string
	Claims     *jwt.UserClaims
}

// nscInfo is the content of nsc's .nsc file.
type nscInfo struct {
	Managed bool   `json:"managed"`
	Name    string `json:"name"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// Open opens the home in dir. It fails with an error wrapping ErrNoHome
// when dir holds no operator.
func Open(dir string) (*Home, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("open home %s: %w", dir, err)
	}
	names, err := operatorNames(abs)
	if err != nil {
		return nil, fmt.Errorf("open home %s: %w", abs, err)
	}
	switch len(names) {
	case 0:
		return nil, fmt.Errorf("%w at %s: run natsauth init", ErrNoHome, abs)
	case 1:
	default:
		return nil, fmt.Errorf("open home %s: it holds %d operators (%s); natsauth manages one per home",
			abs, len(names), strings.Join(names, ", "))
	}
	h := &Home{dir: abs, op: names[0]}
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	raw, err := os.ReadFile(h.operatorJWTPath())
	if err != nil {
		return nil, fmt.Errorf("open home %s: read operator jwt: %w", abs, err)
	}
	h.opJWT = strings.TrimSpace(string(raw))
	h.opClaims, err = jwt.DecodeOperatorClaims(h.opJWT)
	if err != nil {
		return nil, fmt.Errorf("open home %s: operator jwt %s: %w", abs, h.operatorJWTPath(), err)
	}
	return h, nil
}

// operatorNames lists the operators under dir/stores: directories with a
// .nsc file naming them.
func operatorNames(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, storesDirName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, storesDirName, e.Name(), nscFileName))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var info nscInfo
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(storesDirName, e.Name(), nscFileName), err)
		}
		if info.Name != e.Name() {
			return nil, fmt.Errorf("%s names operator %q, not %q",
				filepath.Join(storesDirName, e.Name(), nscFileName), info.Name, e.Name())
		}
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names, nil
}

// lock takes the home's flock, exclusive for writers. Readers of a home
// that was never written by natsauth (no lock file) go without.
func (h *Home) lock(exclusive bool) (func(), error) {
	p := filepath.Join(h.dir, lockFileName)
	flags := os.O_RDONLY
	if exclusive {
		flags = os.O_RDWR | os.O_CREATE
	}
	f, err := os.OpenFile(p, flags, fileMode)
	if err != nil {
		if !exclusive && errors.Is(err, fs.ErrNotExist) {
			return func() {}, nil
		}
		return nil, fmt.Errorf("lock home %s: %w", h.dir, err)
	}
	if err := lockFile(f, exclusive); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock home %s: %w", h.dir, err)
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}

// changeLockFileName is the lock a whole change holds (see LockChanges).
const changeLockFileName = ".natsauth.change.lock"

// LockChanges takes the home's change lock, which a caller holds around a
// whole change — reading the state before it, the authority writes (each
// of which also takes the home's own lock), recording it and publishing it
// — so that changes made by several processes or goroutines (the CLI, a
// console, an apply) never interleave. It blocks until the lock is free or
// ctx ends, and returns the function that releases it.
func (h *Home) LockChanges(ctx context.Context) (func(), error) {
	f, err := os.OpenFile(filepath.Join(h.dir, changeLockFileName), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("lock home %s: %w", h.dir, err)
	}
	got := make(chan error, 1)
	go func() { got <- lockFile(f, true) }()
	select {
	case err := <-got:
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock home %s: %w", h.dir, err)
		}
	case <-ctx.Done():
		go func() {
			if <-got == nil {
				_ = unlockFile(f)
			}
			f.Close()
		}()
		return nil, fmt.Errorf("lock home %s: another change is in progress: %w", h.dir, ctx.Err())
	}
	return func() {
		_ = unlockFile(f)
		_ = f.Close()
	}, nil
}

// Dir returns the home directory (absolute).
func (h *Home) Dir() string { return h.dir }

// OperatorName returns the operator's name.
func (h *Home) OperatorName() string { return h.op }

// Operator returns the operator claims as read by Open.
func (h *Home) Operator() *jwt.OperatorClaims { return h.opClaims }

// OperatorJWT returns the operator JWT as read by Open.
func (h *Home) OperatorJWT() string { return h.opJWT }

// Policy returns the trust policy of the operator: which keys may sign
// account JWTs. Stores opened for this home use it.
func (h *Home) Policy() *trust.Policy { return trust.FromOperators(h.opClaims) }

// SystemAccount returns the public key of the operator's system account.
func (h *Home) SystemAccount() string { return h.opClaims.SystemAccount }

// StoresDir is nsc's data directory (--data-dir) inside the home.
func (h *Home) StoresDir() string { return h.storesDir() }

// KeysDir is nsc's keystore directory (--keystore-dir) inside the home.
func (h *Home) KeysDir() string { return h.keystoreDir() }

// OperatorJWTPath is the file holding the operator JWT, for a
// nats-server.conf's `operator:`.
func (h *Home) OperatorJWTPath() string { return h.operatorJWTPath() }

// CredsPath returns where the creds file of a user is kept in the home.
func (h *Home) CredsPath(account, user string) string {
	return filepath.Join(h.credsDir(account), user+".creds")
}

// SystemUserCreds returns the path of the system account user's creds
// file, checking that it exists.
func (h *Home) SystemUserCreds() (string, error) {
	sys, err := h.AccountByPub(h.SystemAccount())
	if err != nil {
		return "", fmt.Errorf("system user creds: %w", err)
	}
	p := h.CredsPath(sys.Name, SystemUserName)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("system user creds %s: %w", p, ErrNotFound)
		}
		return "", fmt.Errorf("system user creds: %w", err)
	}
	return p, nil
}

// OperatorSigner returns the operator signing key that signs accounts:
// the first of the operator's signing keys whose seed is in the keystore.
func (h *Home) OperatorSigner() (nkeys.KeyPair, error) {
	for _, k := range h.opClaims.SigningKeys {
		kp, err := h.readKey(k)
		if err == nil {
			return kp, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("operator signing key: %w", err)
		}
	}
	return nil, fmt.Errorf("operator %s: no signing key with a seed in the keystore %s: %w",
		h.op, h.keystoreDir(), ErrNotFound)
}

// AccountSigner returns the identity key pair of the account with public
// key pub. `serve` uses the system account's to mint an in-process user.
func (h *Home) AccountSigner(pub string) (nkeys.KeyPair, error) {
	if !nkeys.IsValidPublicAccountKey(pub) {
		return nil, fmt.Errorf("account signer %.60q: not an account public key: %w", pub, ErrInvalid)
	}
	kp, err := h.readKey(pub)
	if err != nil {
		return nil, fmt.Errorf("account signer: %w", err)
	}
	return kp, nil
}

// Accounts returns every account, sorted by name.
func (h *Home) Accounts() ([]AccountInfo, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return h.listAccounts()
}

// Account returns the named account, or an error wrapping ErrNotFound.
func (h *Home) Account(name string) (*AccountInfo, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return h.readAccount(name)
}

// AccountByPub returns the account with public key pub.
func (h *Home) AccountByPub(pub string) (*AccountInfo, error) {
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	for i := range accs {
		if accs[i].Pub == pub {
			return &accs[i], nil
		}
	}
	return nil, fmt.Errorf("account with public key %.60q: %w", pub, ErrNotFound)
}

// AccountJWTs returns the JWT of every account, the system account
// included, by account public key.
func (h *Home) AccountJWTs() (map[string]string, error) {
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(accs))
	for _, a := range accs {
		out[a.Pub] = a.JWT
	}
	return out, nil
}

// Users returns the users of an account, sorted by name.
func (h *Home) Users(account string) ([]UserInfo, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	if err != nil {
		return nil, err
	}
	return h.listUsers(acc)
}

// User returns one user of an account.
func (h *Home) User(account, name string) (*UserInfo, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	if err != nil {
		return nil, err
	}
	return h.readUser(acc, name)
}

// listAccounts reads every account; the caller holds the lock.
func (h *Home) listAccounts() ([]AccountInfo, error) {
	entries, err := os.ReadDir(h.accountsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	var out []AccountInfo
	for _, e := range entries {
		if !e.IsDir() || CheckName("account", e.Name()) != nil {
			continue
		}
		if _, err := os.Stat(h.accountJWTPath(e.Name())); err != nil {
			continue // not an account directory
		}
		a, err := h.readAccount(e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, *a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readAccount reads one account; the caller holds the lock.
func (h *Home) readAccount(name string) (*AccountInfo, error) {
	if err := CheckName("account", name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	raw, err := os.ReadFile(h.accountJWTPath(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, h.accountNotFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("read account %s: %w", name, err)
	}
	tok := strings.TrimSpace(string(raw))
	ac, err := jwt.DecodeAccountClaims(tok)
	if err != nil {
		return nil, fmt.Errorf("read account %s: %s: %w", name, h.accountJWTPath(name), err)
	}
	return &AccountInfo{Name: name, Pub: ac.Subject, JWT: tok, Claims: ac,
		System: ac.Subject == h.opClaims.SystemAccount}, nil
}

// accountNotFound builds the error for a missing account, naming the
// accounts that do exist.
func (h *Home) accountNotFound(name string) error {
	var names []string
	if entries, err := os.ReadDir(h.accountsDir()); err == nil {
		for _, e := range entries {
			if e.IsDir() && CheckName("account", e.Name()) == nil {
				if _, err := os.Stat(h.accountJWTPath(e.Name())); err == nil {
					names = append(names, e.Name())
				}
			}
		}
	}
	if len(names) == 0 {
		return fmt.Errorf("account %q %w (there are no accounts)", name, ErrNotFound)
	}
	return fmt.Errorf("account %q %w (accounts: %s)", name, ErrNotFound, strings.Join(names, ", "))
}

// listUsers reads every user of acc; the caller holds the lock.
func (h *Home) listUsers(acc *AccountInfo) ([]UserInfo, error) {
	entries, err := os.ReadDir(h.usersDir(acc.Name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list users of %s: %w", acc.Name, err)
	}
	var out []UserInfo
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".jwt")
		if e.IsDir() || !ok || CheckName("user", name) != nil {
			continue
		}
		u, err := h.readUser(acc, name)
		if err != nil {
			return nil, err
		}
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// readUser reads one user of acc; the caller holds the lock.
func (h *Home) readUser(acc *AccountInfo, name string) (*UserInfo, error) {
	if err := CheckName("user", name); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	raw, err := os.ReadFile(h.userJWTPath(acc.Name, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("user %q %w in account %s", name, ErrNotFound, acc.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("read user %s: %w", name, err)
	}
	tok := strings.TrimSpace(string(raw))
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil, fmt.Errorf("read user %s: %s: %w", name, h.userJWTPath(acc.Name, name), err)
	}
	return &UserInfo{Account: acc.Name, AccountPub: acc.Pub, Name: name, Pub: uc.Subject, JWT: tok, Claims: uc}, nil
}
