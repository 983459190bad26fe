package authority

import (
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
)

// ImportAccountJWT replaces the home's copy of an account with token, a JWT
// of the same account fetched from elsewhere (a server, an account
// server). token must pass the home's trust policy (the one validation
// every write path applies), name an account the home already has, and be
// issued after the home's copy: the home never goes back to an older JWT.
//
// It returns the account as the home now holds it and whether the home
// changed: an identical JWT changes nothing. A valid JWT that is not newer
// is refused with an error wrapping ErrStale; an invalid one with
// ErrInvalid; an account the home does not have with ErrNotFound. Nothing
// is written unless the import succeeds.
func (h *Home) ImportAccountJWT(token string) (*AccountInfo, bool, error) {
	token = strings.TrimSpace(token)
	ac, err := jwt.DecodeAccountClaims(token)
	if err != nil {
		return nil, false, fmt.Errorf("import account jwt: %w: %w", ErrInvalid, err)
	}
	checked, err := h.Policy().CheckAccount(ac.Subject, token)
	if err != nil {
		return nil, false, fmt.Errorf("import account jwt %s: %w: %w", ac.Subject, ErrInvalid, err)
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, false, err
	}
	defer unlock()
	accs, err := h.listAccounts()
	if err != nil {
		return nil, false, fmt.Errorf("import account jwt %s: %w", checked.Subject, err)
	}
	var cur *AccountInfo
	for i := range accs {
		if accs[i].Pub == checked.Subject {
			cur = &accs[i]
			break
		}
	}
	if cur == nil {
		return nil, false, fmt.Errorf("import account jwt %s (%q): the home has no account with this key: %w",
			checked.Subject, checked.Name, ErrNotFound)
	}
	if cur.JWT == token {
		return cur, false, nil
	}
	if checked.IssuedAt <= cur.Claims.IssuedAt {
		return cur, false, fmt.Errorf("import account %s: offered JWT issued %s, the home's %s: %w",
			cur.Name, unixTime(checked.IssuedAt), unixTime(cur.Claims.IssuedAt), ErrStale)
	}
	var t txn
	t.put(h.accountJWTPath(cur.Name), []byte(token))
	if err := t.commit(); err != nil {
		return nil, false, fmt.Errorf("import account %s: %w", cur.Name, err)
	}
	return &AccountInfo{Name: cur.Name, Pub: checked.Subject, JWT: token, Claims: checked,
		System: checked.Subject == h.opClaims.SystemAccount}, true, nil
}

func unixTime(sec int64) string { return time.Unix(sec, 0).UTC().Format(time.RFC3339) }
