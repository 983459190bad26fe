package authority

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

// Expiration is one JWT of the home and when it expires (nsc's
// expirations report, plus the activation tokens held in imports).
type Expiration struct {
	// Kind is "operator", "account", "user" or "activation".
	Kind string `json:"kind"`
	// Resource is nsc's path of the entity: Op, Op/Acc, Op/Acc/user; for
	// an activation Op/Acc/import <subject> from <source>.
	Resource string    `json:"resource"`
	ID       string    `json:"id"`               // public key (for an activation, the issuer)
	Expires  time.Time `json:"expires,omitzero"` // zero: never
	Expired  bool      `json:"expired"`
	// ExpiresSoon: not expired, and expires before the end of the window.
	ExpiresSoon bool `json:"expires_soon"`
}

// Expirations reports the expiry of the operator, every account, user and
// import activation token of the home at time now; those expiring before
// now+within are marked ExpiresSoon. The operator comes first, then each
// account followed by its users and activations.
func (h *Home) Expirations(now time.Time, within time.Duration) ([]Expiration, error) {
	if within < 0 {
		return nil, fmt.Errorf("expirations: window %v is negative: %w", within, ErrInvalid)
	}
	end := now.Add(within)
	mk := func(kind, res, id string, exp int64) Expiration {
		e := Expiration{Kind: kind, Resource: res, ID: id}
		if exp != 0 {
			e.Expires = time.Unix(exp, 0).UTC()
			e.Expired = !e.Expires.After(now)
			e.ExpiresSoon = !e.Expired && e.Expires.Before(end)
		}
		return e
	}
	out := []Expiration{mk("operator", h.op, h.opClaims.Subject, h.opClaims.Expires)}
	accs, err := h.Accounts()
	if err != nil {
		return nil, fmt.Errorf("expirations: %w", err)
	}
	imps, err := h.Imports(now)
	if err != nil {
		return nil, fmt.Errorf("expirations: %w", err)
	}
	names := map[string]string{}
	for _, a := range accs {
		names[a.Pub] = a.Name
	}
	for i := range accs {
		a := &accs[i]
		res := h.op + "/" + a.Name
		out = append(out, mk("account", res, a.Pub, a.Claims.Expires))
		users, err := h.Users(a.Name)
		if err != nil {
			return nil, fmt.Errorf("expirations: %w", err)
		}
		for _, u := range users {
			out = append(out, mk("user", res+"/"+u.Name, u.Pub, u.Claims.Expires))
		}
		for _, im := range imps {
			if im.Account != a.Name || im.Activation == nil {
				continue
			}
			src := im.Import.Account
			if n := names[src]; n != "" {
				src = n
			}
			out = append(out, mk("activation", fmt.Sprintf("%s/import %s from %s", res, im.Import.Subject, src),
				im.Activation.Issuer, im.Activation.Expires))
		}
	}
	return out, nil
}

// KeyInfo is one key the home's JWTs name, and whether the keystore holds
// its seed (nsc's list keys).
type KeyInfo struct {
	// Kind is "operator", "account" or "user".
	Kind string `json:"kind"`
	// Name is the entity the key belongs to: the operator, Acc or Acc/user.
	Name string `json:"name"`
	Pub  string `json:"public_key"`
	// Signing says whether it is a signing key (else the identity key).
	Signing bool `json:"signing,omitempty"`
	// Role of a scoped account signing key.
	Role string `json:"role,omitempty"`
	// Stored says whether the keystore holds the seed.
	Stored bool `json:"stored"`
}

// Keys lists the keys of the operator, its accounts and their users —
// identity and signing keys — and whether the keystore holds each seed,
// so that a missing one shows. Unreferenced lists the public keys of
// seeds in the keystore that no JWT of the home names (nsc's
// --not-referenced).
func (h *Home) Keys() (keys []KeyInfo, unreferenced []string, err error) {
	add := func(kind, name, pub string, signing bool, role string) {
		keys = append(keys, KeyInfo{Kind: kind, Name: name, Pub: pub, Signing: signing, Role: role, Stored: h.hasKey(pub)})
	}
	add("operator", h.op, h.opClaims.Subject, false, "")
	for _, k := range h.opClaims.SigningKeys {
		add("operator", h.op, k, true, "")
	}
	accs, err := h.Accounts()
	if err != nil {
		return nil, nil, fmt.Errorf("list keys: %w", err)
	}
	for _, a := range accs {
		add("account", a.Name, a.Pub, false, "")
		for _, k := range sortedKeys(a.Claims.SigningKeys) {
			role := ""
			if s := scopeOf(a.Claims.SigningKeys, k); s != nil {
				role = s.Role
			}
			add("account", a.Name, k, true, role)
		}
		users, err := h.Users(a.Name)
		if err != nil {
			return nil, nil, fmt.Errorf("list keys: %w", err)
		}
		for _, u := range users {
			add("user", a.Name+"/"+u.Name, u.Pub, false, "")
		}
	}
	known := map[string]bool{}
	for _, k := range keys {
		known[k.Pub] = true
	}
	root := filepath.Join(h.keystoreDir(), keysSubDir)
	err = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			if os.IsNotExist(err) {
				return nil
			}
			return err
		}
		pub, ok := strings.CutSuffix(d.Name(), ".nk")
		if d.IsDir() || !ok {
			return nil
		}
		if _, perr := nkeys.FromPublicKey(pub); perr == nil && !known[pub] {
			unreferenced = append(unreferenced, pub)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list keys: %w", err)
	}
	sort.Strings(unreferenced)
	return keys, unreferenced, nil
}
