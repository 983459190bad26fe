package authority

import (
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// ActivationSpec describes an activation token (nsc's generate
// activation): the exporting account grants Target the import of Subject,
// which must lie within one of its private exports.
type ActivationSpec struct {
	// Target is the importing account: a name of this home or an account
	// public key.
	Target  string
	Subject string    // the export's subject or a narrower one
	Expires time.Time // must be in the future; zero: never
	Start   time.Time // zero: at once
}

// Activation is a signed activation token.
type Activation struct {
	Token  string // the JWT, as AddImport and nsc's add import --token take it
	Claims *jwt.ActivationClaims
	Export jwt.Export // the private export it grants
}

// Decorated returns the token in nsc's decorated file form.
func (a *Activation) Decorated() ([]byte, error) { return jwt.DecorateJWT(a.Token) }

// WriteDecorated writes the token to w in nsc's decorated file form.
func (a *Activation) WriteDecorated(w io.Writer) error {
	dec, err := a.Decorated()
	if err == nil {
		_, err = w.Write(dec)
	}
	return err
}

// WriteFile writes the token to path in nsc's decorated file form, mode
// 0600 even when the file existed.
func (a *Activation) WriteFile(path string) error {
	dec, err := a.Decorated()
	if err == nil {
		err = os.WriteFile(path, dec, 0o600)
	}
	if err == nil {
		err = os.Chmod(path, 0o600)
	}
	if err != nil {
		return fmt.Errorf("write activation token: %w", err)
	}
	return nil
}

// GenerateActivation signs an activation token with the exporting
// account's key, as nsc does: its identity key when the seed is here
// (unless the operator requires signing keys), else one of its unscoped
// signing keys (the token then names the account as issuer_account).
// Nothing is written to the home.
func (h *Home) GenerateActivation(account string, s ActivationSpec) (*Activation, error) {
	p := newProblems("generate activation %s of account %s for %s", s.Subject, account, s.Target)
	if err := CheckSubject(s.Subject); err != nil {
		p.add("subject: %v", err)
	}
	checkNotPast(p, "expiry", s.Expires)
	if !s.Expires.IsZero() && !s.Start.IsZero() && !s.Expires.After(s.Start) {
		p.add("expiry %s is not after start %s", s.Expires.UTC().Format(time.RFC3339), s.Start.UTC().Format(time.RFC3339))
	}
	unlock, err := h.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	accs, err := h.listAccounts()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p.op, err)
	}
	byName := map[string]*AccountInfo{}
	for i := range accs {
		byName[accs[i].Name] = &accs[i]
	}
	acc := byName[account]
	if acc == nil {
		p.addErr(h.missingAccount(account))
	}
	target := resolveAccount(p, byName, "target account", s.Target)
	var x *jwt.Export
	var signer nkeys.KeyPair
	if acc != nil {
		if target != nil && target.pub == acc.Pub {
			p.add("account %s cannot grant an import to itself", acc.Name)
		}
		x = privateExport(p, acc, s.Subject)
		signer = h.activationSigner(p, acc)
	}
	if err := p.err(); err != nil {
		return nil, err
	}
	ac := jwt.NewActivationClaims(target.pub)
	ac.Name = s.Subject
	ac.ImportSubject = jwt.Subject(s.Subject)
	ac.ImportType = x.Type
	ac.NotBefore = unixOrZero(s.Start)
	ac.Expires = unixOrZero(s.Expires)
	if pubKey(signer) != acc.Pub {
		ac.IssuerAccount = acc.Pub
	}
	tok, err := ac.Encode(signer)
	if err != nil {
		return nil, fmt.Errorf("%s: sign: %w", p.op, err)
	}
	return &Activation{Token: tok, Claims: ac, Export: *x}, nil
}

// privateExport returns acc's private export containing subject.
func privateExport(p *problems, acc *AccountInfo, subject string) *jwt.Export {
	var public *jwt.Export
	for _, t := range []jwt.ExportType{jwt.Service, jwt.Stream} {
		x := coveringExport(acc.Claims, t, subject)
		if x != nil && x.TokenReq {
			return x
		}
		if x != nil {
			public = x
		}
	}
	if public != nil {
		p.add("%s export %q of account %s is public: it needs no activation (make it private with natsauth edit export --private)",
			kindName(public.Type), public.Subject, acc.Name)
		return nil
	}
	p.addKind(ErrNotFound, "account %s has no private export covering %q", acc.Name, subject)
	return nil
}

// activationSigner picks the key that signs acc's activation tokens.
func (h *Home) activationSigner(p *problems, acc *AccountInfo) nkeys.KeyPair {
	if !h.opClaims.StrictSigningKeyUsage {
		if kp, err := h.readKey(acc.Pub); err == nil {
			return kp
		}
	}
	for _, k := range sortedKeys(acc.Claims.SigningKeys) {
		if scopeOf(acc.Claims.SigningKeys, k) != nil {
			continue
		}
		if kp, err := h.readKey(k); err == nil {
			return kp
		}
	}
	p.addKind(ErrNotFound, "no key of account %s to sign with: neither its identity seed nor an unscoped signing key's seed "+
		"is in the keystore (add one with natsauth edit account %s --sk generate)", acc.Name, shellArg(acc.Name))
	return nil
}

// ActivationRevocation is one revocation of activation tokens of an
// export: tokens issued to Account at or before At are refused.
type ActivationRevocation struct {
	Export  string // the export's subject
	Service bool
	Account string // the importing account's public key, or "*" for every account
	Name    string // its name when it is an account of the home
	At      time.Time
}

// RevokeActivation revokes the activation tokens that account issued to
// target (a name, public key or "*" for all) for its private export of
// subject, issued at or before at (now when zero), as nsc's revocations
// add-activation does. Servers drop the import once they have the new JWT.
func (h *Home) RevokeActivation(account, subject, target string, at time.Time) (*AccountInfo, error) {
	if at.IsZero() {
		at = time.Now()
	}
	p := newProblems("revoke activation %s of account %s for %s", subject, account, target)
	return h.changeAccount(p, account, func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims) {
		pub := revocationTarget(p, byName, target)
		i := findRevocableExport(p, acc, subject)
		if i < 0 || pub == "" {
			return nil
		}
		return func(ac *jwt.AccountClaims) { ac.Exports[i].RevokeAt(pub, at) }
	})
}

// UnrevokeActivation removes the revocation of target's activations for
// account's export of subject (nsc's revocations delete-activation).
func (h *Home) UnrevokeActivation(account, subject, target string) (*AccountInfo, error) {
	p := newProblems("delete activation revocation %s of account %s for %s", subject, account, target)
	return h.changeAccount(p, account, func(acc *AccountInfo, byName map[string]*AccountInfo) func(*jwt.AccountClaims) {
		pub := revocationTarget(p, byName, target)
		i := findRevocableExport(p, acc, subject)
		if i < 0 || pub == "" {
			return nil
		}
		if _, ok := acc.Claims.Exports[i].Revocations[pub]; !ok {
			p.addKind(ErrNotFound, "export %q of account %s has no revocation for %s", subject, acc.Name, target)
			return nil
		}
		return func(ac *jwt.AccountClaims) { ac.Exports[i].ClearRevocation(pub) }
	})
}

func revocationTarget(p *problems, byName map[string]*AccountInfo, target string) string {
	if target == jwt.All {
		return jwt.All
	}
	if ref := resolveAccount(p, byName, "target account", target); ref != nil {
		return ref.pub
	}
	return ""
}

// findRevocableExport returns the index of acc's export of subject (exact,
// else the one containing it), adding a problem when there is none.
func findRevocableExport(p *problems, acc *AccountInfo, subject string) int {
	for i, x := range acc.Claims.Exports {
		if x != nil && string(x.Subject) == subject {
			return i
		}
	}
	for i, x := range acc.Claims.Exports {
		if x != nil && jwt.Subject(subject).IsContainedIn(x.Subject) {
			return i
		}
	}
	p.addKind(ErrNotFound, "account %s has no export %q (%s; %s)", acc.Name, subject,
		exportList(acc.Claims, jwt.Service), exportList(acc.Claims, jwt.Stream))
	return -1
}

// ActivationRevocations lists the activation revocations of account's
// exports, by export subject then account.
func (h *Home) ActivationRevocations(account string) ([]ActivationRevocation, error) {
	accs, err := h.Accounts()
	if err != nil {
		return nil, err
	}
	names := map[string]string{jwt.All: ""}
	var acc *AccountInfo
	for i := range accs {
		names[accs[i].Pub] = accs[i].Name
		if accs[i].Name == account {
			acc = &accs[i]
		}
	}
	if acc == nil {
		return nil, h.missingAccount(account)
	}
	var out []ActivationRevocation
	for _, x := range acc.Claims.Exports {
		if x == nil {
			continue
		}
		for pub, at := range x.Revocations {
			out = append(out, ActivationRevocation{Export: string(x.Subject), Service: x.IsService(),
				Account: pub, Name: names[pub], At: time.Unix(at, 0).UTC()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Export != out[j].Export {
			return out[i].Export < out[j].Export
		}
		return out[i].Account < out[j].Account
	})
	return out, nil
}
