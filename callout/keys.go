package callout

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/authority"
)

// Home is what the gateway needs of a natsauth home: accounts and the
// keys that sign for them. *authority.Home implements it.
type Home interface {
	Account(name string) (*authority.AccountInfo, error)
	Accounts() ([]authority.AccountInfo, error)
	AccountSigner(pub string) (nkeys.KeyPair, error)
	CurveKey(pub string) (nkeys.KeyPair, error)
}

var _ Home = (*authority.Home)(nil)

// keyring holds, read from the home, the callout account's signer and
// curve key and the signer of every account users are placed in.
type keyring struct {
	home    Home
	account string // callout account, name or public key

	mu       sync.RWMutex
	callout  *authority.AccountInfo
	signer   nkeys.KeyPair // signs authorization responses
	curve    nkeys.KeyPair // opens encrypted requests (nil: none)
	accounts map[string]*target
	loaded   time.Time
}

// target is an account users are placed in.
type target struct {
	name, pub string
	signer    nkeys.KeyPair
	viaSK     bool // signer is a signing key: the user JWT names the account as issuer_account
}

var errNoSigner = errors.New("no key in the keystore can sign for the account")

func newKeyring(h Home, account string) *keyring { return &keyring{home: h, account: account} }

// load reads the callout account, its signer and curve key, and every
// account's signer, replacing what was loaded before only on success.
func (k *keyring) load() error {
	accs, err := k.home.Accounts()
	if err != nil {
		return fmt.Errorf("load keys: %w", err)
	}
	var callout *authority.AccountInfo
	targets := map[string]*target{}
	for i := range accs {
		a := &accs[i]
		if a.Name == k.account || a.Pub == k.account {
			callout = a
		}
		t := &target{name: a.Name, pub: a.Pub}
		t.signer, t.viaSK = k.userSigner(a)
		targets[a.Name], targets[a.Pub] = t, t
	}
	if callout == nil {
		return fmt.Errorf("load keys: callout account %q is not in the home", k.account)
	}
	if !callout.Claims.Authorization.IsEnabled() {
		return fmt.Errorf("load keys: account %s has no auth callout configured (natsauth edit authcallout -a %s --auth-user USER --allowed-account ACCOUNT)",
			callout.Name, callout.Name)
	}
	signer := targets[callout.Pub].signer
	if signer == nil {
		return fmt.Errorf("load keys: callout account %s: %w", callout.Name, errNoSigner)
	}
	var curve nkeys.KeyPair
	if x := callout.Claims.Authorization.XKey; x != "" {
		if curve, err = k.home.CurveKey(x); err != nil {
			return fmt.Errorf("load keys: callout account %s encrypts to %s: %w", callout.Name, x, err)
		}
	}
	k.mu.Lock()
	k.callout, k.signer, k.curve, k.accounts, k.loaded = callout, signer, curve, targets, time.Now()
	k.mu.Unlock()
	return nil
}

// userSigner picks the key that signs users of a: an unscoped signing key
// with its seed in the keystore, else the account's identity key. Scoped
// keys are passed over: their template would replace the rule's
// permissions.
func (k *keyring) userSigner(a *authority.AccountInfo) (nkeys.KeyPair, bool) {
	for _, sk := range a.Claims.SigningKeys.Keys() {
		if scope, _ := a.Claims.SigningKeys.GetScope(sk); scope != nil {
			continue
		}
		if kp, err := k.home.AccountSigner(sk); err == nil {
			return kp, true
		}
	}
	if kp, err := k.home.AccountSigner(a.Pub); err == nil {
		return kp, false
	}
	return nil, false
}

// snapshot returns what is loaded.
func (k *keyring) snapshot() (callout *authority.AccountInfo, signer, curve nkeys.KeyPair) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	return k.callout, k.signer, k.curve
}

// target finds an account by name or public key, reloading the home once
// (at most every second) when it is not known yet.
func (k *keyring) target(account string) (*target, error) {
	k.mu.RLock()
	t, loaded := k.accounts[account], k.loaded
	k.mu.RUnlock()
	if t == nil && time.Since(loaded) > time.Second {
		if err := k.load(); err != nil {
			return nil, err
		}
		k.mu.RLock()
		t = k.accounts[account]
		k.mu.RUnlock()
	}
	if t == nil {
		return nil, fmt.Errorf("account %q is not in the home", account)
	}
	if t.signer == nil {
		return nil, fmt.Errorf("account %s: %w", t.name, errNoSigner)
	}
	return t, nil
}

// allowed reports whether the callout may place users in account pub.
func (k *keyring) allowed(pub string) bool {
	k.mu.RLock()
	defer k.mu.RUnlock()
	a := k.callout.Claims.Authorization.AllowedAccounts
	return pub == k.callout.Pub || a.Contains(jwt.AnyAccount) || a.Contains(pub)
}

// refreshCurve reloads the keys when a request is encrypted to a key the
// ring does not hold (the account's curve key was changed), at most once
// a second.
func (k *keyring) refreshCurve() nkeys.KeyPair {
	k.mu.RLock()
	loaded := k.loaded
	k.mu.RUnlock()
	if time.Since(loaded) > time.Second {
		_ = k.load()
	}
	_, _, c := k.snapshot()
	return c
}
