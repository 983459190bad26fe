package authority

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// Kinds of signing-key rotation.
const (
	RotateOperator = "operator" // an operator signing key (signs accounts)
	RotateAccount  = "account"  // an account signing key (signs users)
)

// rotationsDirName holds the records of rotations in progress.
const rotationsDirName = "rotations"

// Rotation is a signing-key rotation in progress. It is recorded in the
// home (HOME/rotations/) from its first step to its last, so that an
// interrupted rotation resumes where it stopped.
//
// A rotation runs in three steps, each safe to repeat:
//
//  1. Begin: a new key is added beside the old one (with the old one's
//     scope) and the account (or operator) JWT re-signed. Servers must
//     have this JWT before anything is signed with the new key.
//  2. Reissue: everything the old key signed is re-signed with the new one
//     (users keep their issued-at time, so revocations still apply), and
//     creds files are rewritten.
//  3. Finish: the old key is removed from the JWT and its seed deleted.
//     Servers that have that JWT refuse whatever the old key signed.
type Rotation struct {
	Kind    string `json:"kind"`
	Account string `json:"account,omitempty"` // account name, for account rotations
	// Old is the key being retired. For an account that had no signing
	// key it is the account's identity key: its users move to the new
	// signing key and the identity key stays (it is the account).
	Old string `json:"old"`
	// IdentityKey says that Old is the account's identity key.
	IdentityKey bool      `json:"identity_key,omitempty"`
	New         string    `json:"new"`
	Started     time.Time `json:"started"`
}

func (h *Home) rotationPath(kind, account string) string {
	name := "operator.json"
	if kind == RotateAccount {
		name = "account-" + account + ".json"
	}
	return filepath.Join(h.dir, rotationsDirName, name)
}

// PendingRotation returns the recorded rotation of the operator's signing
// key (kind RotateOperator) or of an account's (RotateAccount, account
// name), or nil when none is in progress.
func (h *Home) PendingRotation(kind, account string) (*Rotation, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return h.readRotation(kind, account)
}

// PendingRotations returns every rotation in progress.
func (h *Home) PendingRotations() ([]Rotation, error) {
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	entries, err := os.ReadDir(filepath.Join(h.dir, rotationsDirName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list rotations: %w", err)
	}
	var out []Rotation
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || e.IsDir() {
			continue
		}
		kind, account := RotateOperator, ""
		if acc, ok := strings.CutPrefix(name, "account-"); ok {
			kind, account = RotateAccount, acc
		} else if name != "operator" {
			continue
		}
		r, err := h.readRotation(kind, account)
		if err != nil {
			return nil, err
		}
		if r != nil {
			out = append(out, *r)
		}
	}
	return out, nil
}

// readRotation reads a rotation record; the caller holds the lock.
func (h *Home) readRotation(kind, account string) (*Rotation, error) {
	p := h.rotationPath(kind, account)
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read rotation: %w", err)
	}
	var r Rotation
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("rotation record %s: %w", p, err)
	}
	valid := nkeys.IsValidPublicAccountKey
	if kind == RotateOperator {
		valid = nkeys.IsValidPublicOperatorKey
	}
	if r.Kind != kind || r.Account != account || !valid(r.New) || !valid(r.Old) {
		return nil, fmt.Errorf("rotation record %s is not a valid %s rotation; remove it to start again", p, kind)
	}
	return &r, nil
}

// stageRotation schedules writing (or, with r nil, removing) a record.
func (h *Home) stageRotation(t *txn, kind, account string, r *Rotation) error {
	if r == nil {
		t.del(h.rotationPath(kind, account))
		return nil
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	t.put(h.rotationPath(kind, account), append(raw, '\n'))
	return nil
}

// pruneRotations removes the rotations directory once it is empty.
func (h *Home) pruneRotations() {
	_ = os.Remove(filepath.Join(h.dir, rotationsDirName))
}

// BeginAccountKeyRotation starts replacing an account signing key, or
// resumes the rotation in progress. old is the key to retire (its public
// key or a scoped key's role); "" means the account's only signing key,
// or, when it has none, its identity key (its users then move to a new
// signing key). The new key gets the old one's scope. It returns the
// rotation and the account as re-signed, to be published — and applied by
// every server — before ReissueAccountUsers.
func (h *Home) BeginAccountKeyRotation(account, old string) (*Rotation, *AccountInfo, error) {
	p := newProblems("rotate signing key of account %s", account)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	if acc == nil {
		return nil, nil, p.err()
	}
	pending, err := h.readRotation(RotateAccount, account)
	p.addErr(err)
	if pending != nil {
		if old != "" && old != pending.Old && findSigningKeyQuiet(acc, old) != pending.Old {
			p.add("a rotation of key %s (started %s) is in progress: finish it first by running the rotation again without --key",
				pending.Old, pending.Started.Format(time.RFC3339))
		}
		if !acc.Claims.SigningKeys.Contains(pending.New) {
			p.add("the rotation record names new key %s, which account %s does not list; remove %s to start again",
				pending.New, account, h.rotationPath(RotateAccount, account))
		}
		if err := p.err(); err != nil {
			return nil, nil, err
		}
		return pending, acc, nil
	}
	sks := acc.Claims.SigningKeys
	switch {
	case old == "" && len(sks) == 0:
		old = acc.Pub
	case old == "" && len(sks) == 1:
		old = sks.Keys()[0]
	case old == "":
		p.add("account %s has %d signing keys; choose the one to rotate with --key (%s)", account, len(sks), describeSigningKeys(acc))
	case old == acc.Pub:
	default:
		old = findSigningKey(p, acc, old)
	}
	signer, err := h.OperatorSigner()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, nil, err
	}
	kp, err := nkeys.CreateAccount()
	if err != nil {
		return nil, nil, fmt.Errorf("rotate signing key of account %s: %w", account, err)
	}
	var t txn
	newPub, err := h.stageKey(&t, kp)
	if err != nil {
		return nil, nil, fmt.Errorf("rotate signing key of account %s: %w", account, err)
	}
	info, err := h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) {
		if s := scopeOf(ac.SigningKeys, old); s != nil {
			c := *s
			c.Key = newPub
			ac.SigningKeys.AddScopedSigner(&c)
			return
		}
		ac.SigningKeys.Add(newPub)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("rotate signing key: %w", err)
	}
	r := &Rotation{Kind: RotateAccount, Account: account, Old: old, IdentityKey: old == acc.Pub, New: newPub,
		Started: time.Now().UTC().Truncate(time.Second)}
	if err := h.stageRotation(&t, RotateAccount, account, r); err != nil {
		return nil, nil, fmt.Errorf("rotate signing key of account %s: %w", account, err)
	}
	if err := t.commit(); err != nil {
		return nil, nil, fmt.Errorf("rotate signing key of account %s: %w", account, err)
	}
	return r, info, nil
}

// findSigningKeyQuiet is findSigningKey without a problem report.
func findSigningKeyQuiet(acc *AccountInfo, key string) string {
	return findSigningKey(newProblems(""), acc, key)
}

// Reissued is a user re-signed by a rotation.
type Reissued struct {
	UserInfo
	// CredsWritten is false for a user issued from a public key only: the
	// holder of its seed needs the new JWT.
	CredsWritten bool
}

// ReissueAccountUsers re-signs, with the rotation's new key, every user of
// the account that the old key signed, keeping each user's issued-at time
// (so the account's revocations apply to it as before), and rewrites their
// creds files. Users already re-issued are left alone, so it is safe to
// repeat. The account JWT listing the new key must be live on the servers
// first: until then they refuse the new creds.
func (h *Home) ReissueAccountUsers(r *Rotation) ([]Reissued, error) {
	if r == nil || r.Kind != RotateAccount {
		return nil, fmt.Errorf("reissue users: not an account rotation: %w", ErrInvalid)
	}
	p := newProblems("reissue users of account %s", r.Account)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(r.Account)
	p.addErr(err)
	var users []UserInfo
	var signer nkeys.KeyPair
	if acc != nil {
		if !acc.Claims.SigningKeys.Contains(r.New) {
			p.add("account %s does not list the new key %s yet: begin the rotation first", r.Account, r.New)
		}
		users, err = h.listUsers(acc)
		p.addErr(err)
		signer, err = h.readKey(r.New)
		p.addErr(err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	var out []Reissued
	for _, u := range users {
		if u.Claims.Issuer != r.Old {
			continue
		}
		uc, err := jwt.DecodeUserClaims(u.JWT)
		if err != nil {
			return nil, fmt.Errorf("reissue user %s: %w", u.Name, err)
		}
		uc.IssuerAccount = acc.Pub
		tok, err := encodeAt(uc, signer, u.Claims.IssuedAt)
		if err != nil {
			return nil, fmt.Errorf("reissue user %s: %w", u.Name, err)
		}
		t.put(h.userJWTPath(acc.Name, u.Name), []byte(tok))
		ri := Reissued{UserInfo: UserInfo{Account: acc.Name, AccountPub: acc.Pub, Name: u.Name, Pub: u.Pub, JWT: tok, Claims: uc}}
		if kp, err := h.readKey(u.Pub); err == nil {
			creds, err := formatCreds(tok, kp)
			if err != nil {
				return nil, fmt.Errorf("reissue user %s: %w", u.Name, err)
			}
			t.put(h.CredsPath(acc.Name, u.Name), creds)
			ri.CredsWritten = true
		}
		out = append(out, ri)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("reissue users of account %s: %w", r.Account, err)
	}
	return out, nil
}

// FinishAccountKeyRotation removes the old key from the account (unless it
// is the identity key), re-signs the account, deletes the old key's seed
// and the rotation record. It refuses while users of the home are still
// signed by the old key. It returns the account, to be published: servers
// that apply it disconnect and refuse users signed by the old key.
func (h *Home) FinishAccountKeyRotation(r *Rotation) (*AccountInfo, error) {
	if r == nil || r.Kind != RotateAccount {
		return nil, fmt.Errorf("finish rotation: not an account rotation: %w", ErrInvalid)
	}
	p := newProblems("finish rotation of account %s", r.Account)
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(r.Account)
	p.addErr(err)
	if acc != nil {
		users, err := h.listUsers(acc)
		p.addErr(err)
		var left []string
		for _, u := range users {
			if u.Claims.Issuer == r.Old {
				left = append(left, u.Name)
			}
		}
		if len(left) > 0 {
			p.add("users %s are still signed by the old key %s: re-issue them first", strings.Join(left, ", "), r.Old)
		}
	}
	identity := r.IdentityKey
	var signer nkeys.KeyPair
	if !identity {
		signer, err = h.OperatorSigner()
		p.addErr(err)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	info := acc
	if !identity && acc.Claims.SigningKeys.Contains(r.Old) {
		info, err = h.stageResignAccount(&t, acc, signer, func(ac *jwt.AccountClaims) { ac.SigningKeys.Remove(r.Old) })
		if err != nil {
			return nil, fmt.Errorf("finish rotation: %w", err)
		}
	}
	if !identity {
		t.del(h.keyPath(r.Old))
	}
	if err := h.stageRotation(&t, RotateAccount, r.Account, nil); err != nil {
		return nil, err
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("finish rotation of account %s: %w", r.Account, err)
	}
	if !identity {
		pruneDirs(h.pruneKey(r.Old).dir, h.pruneKey(r.Old).stop)
	}
	h.pruneRotations()
	return info, nil
}

// BeginOperatorKeyRotation starts replacing an operator signing key, or
// resumes the rotation in progress: a new key is generated, added last to
// the operator's signing keys (accounts keep being signed with the old one
// until ReissueAccounts), and the operator JWT re-signed. old is the
// key to retire; "" means the operator's only signing key. Servers learn
// of the new key only when they restart with the new operator JWT, which
// must happen before ReissueAccounts (they would refuse the accounts).
func (h *Home) BeginOperatorKeyRotation(old string) (*Rotation, error) {
	p := newProblems("rotate operator signing key")
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	oc, idKP := h.operatorForEdit(p)
	pending, err := h.readRotation(RotateOperator, "")
	p.addErr(err)
	if pending != nil {
		if old != "" && old != pending.Old {
			p.add("a rotation of key %s (started %s) is in progress: finish it first by running the rotation again without --key",
				pending.Old, pending.Started.Format(time.RFC3339))
		}
		if oc != nil && !oc.SigningKeys.Contains(pending.New) {
			p.add("the rotation record names new key %s, which the operator does not list; remove %s to start again",
				pending.New, h.rotationPath(RotateOperator, ""))
		}
		if err := p.err(); err != nil {
			return nil, err
		}
		return pending, nil
	}
	if oc != nil {
		switch {
		case old == "" && len(oc.SigningKeys) == 1:
			old = oc.SigningKeys[0]
		case old == "" && len(oc.SigningKeys) == 0:
			p.add("operator %s has no signing key: add one with natsauth edit operator --sk generate", h.op)
		case old == "":
			p.add("operator %s has %d signing keys; choose the one to rotate with --key (%s)", h.op, len(oc.SigningKeys),
				strings.Join(oc.SigningKeys, ", "))
		case !oc.SigningKeys.Contains(old):
			p.addKind(ErrNotFound, "operator %s has no signing key %.60q (signing keys: %s)", h.op, old, strings.Join(oc.SigningKeys, ", "))
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	kp, err := nkeys.CreateOperator()
	if err != nil {
		return nil, fmt.Errorf("rotate operator signing key: %w", err)
	}
	var t txn
	newPub, err := h.stageKey(&t, kp)
	if err != nil {
		return nil, fmt.Errorf("rotate operator signing key: %w", err)
	}
	oc.SigningKeys = append(oc.SigningKeys, newPub)
	if err := h.stageOperator(&t, oc, idKP); err != nil {
		return nil, fmt.Errorf("rotate operator signing key: %w", err)
	}
	r := &Rotation{Kind: RotateOperator, Old: old, New: newPub, Started: time.Now().UTC().Truncate(time.Second)}
	if err := h.stageRotation(&t, RotateOperator, "", r); err != nil {
		return nil, fmt.Errorf("rotate operator signing key: %w", err)
	}
	if err := h.commitOperator(&t, oc); err != nil {
		return nil, fmt.Errorf("rotate operator signing key: %w", err)
	}
	return r, nil
}

// ReissueAccounts re-signs, with the rotation's new key, every account the
// old key signed — and any the operator identity key signed — and returns
// them, to be published. Accounts already re-issued are left alone, so it
// is safe to repeat.
func (h *Home) ReissueAccounts(r *Rotation) ([]AccountInfo, error) {
	if r == nil || r.Kind != RotateOperator {
		return nil, fmt.Errorf("reissue accounts: not an operator rotation: %w", ErrInvalid)
	}
	p := newProblems("reissue accounts")
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if !h.opClaims.SigningKeys.Contains(r.New) {
		p.add("the operator does not list the new key %s yet: begin the rotation first", r.New)
	}
	signer, err := h.readKey(r.New)
	p.addErr(err)
	accs, err := h.listAccounts()
	p.addErr(err)
	if err := p.err(); err != nil {
		return nil, err
	}
	var t txn
	var out []AccountInfo
	for i := range accs {
		a := &accs[i]
		if a.Claims.Issuer != r.Old && a.Claims.Issuer != h.opClaims.Subject {
			continue
		}
		info, err := h.stageResignAccount(&t, a, signer, func(*jwt.AccountClaims) {})
		if err != nil {
			return nil, fmt.Errorf("reissue accounts: %w", err)
		}
		out = append(out, *info)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("reissue accounts: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// FinishOperatorKeyRotation removes the old key from the operator,
// re-signs the operator JWT, deletes the old key's seed and the rotation
// record. It refuses while accounts of the home are signed by the old key.
// Servers keep trusting the old key until they restart with the new
// operator JWT.
func (h *Home) FinishOperatorKeyRotation(r *Rotation) error {
	if r == nil || r.Kind != RotateOperator {
		return fmt.Errorf("finish rotation: not an operator rotation: %w", ErrInvalid)
	}
	p := newProblems("finish operator signing key rotation")
	unlock, err := h.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	oc, idKP := h.operatorForEdit(p)
	accs, err := h.listAccounts()
	p.addErr(err)
	var left []string
	for _, a := range accs {
		if a.Claims.Issuer == r.Old {
			left = append(left, a.Name)
		}
	}
	if len(left) > 0 {
		p.add("accounts %s are still signed by the old key %s: re-issue them first", strings.Join(left, ", "), r.Old)
	}
	if err := p.err(); err != nil {
		return err
	}
	var t txn
	oc.SigningKeys.Remove(r.Old)
	if err := h.stageOperator(&t, oc, idKP); err != nil {
		return fmt.Errorf("finish rotation: %w", err)
	}
	t.del(h.keyPath(r.Old))
	if err := h.stageRotation(&t, RotateOperator, "", nil); err != nil {
		return err
	}
	if err := h.commitOperator(&t, oc); err != nil {
		return fmt.Errorf("finish operator signing key rotation: %w", err)
	}
	pruneDirs(h.pruneKey(r.Old).dir, h.pruneKey(r.Old).stop)
	h.pruneRotations()
	return nil
}
