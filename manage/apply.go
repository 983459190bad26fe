package manage

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/claims"
	"github.com/natsauth/natsauth/declare"
	"github.com/natsauth/natsauth/store"
)

// The declarative front door: a file (package declare) describes the
// accounts and users of a home; Plan says what applying it would change,
// Apply makes the home match it — through the same pipeline as every
// change (lock, check everything, one commit, audit, publish, wait).

// PlanOptions say what a plan compares.
type PlanOptions struct {
	// NoUsers leaves users out: the file's are ignored, the home's kept.
	NoUsers bool
	// Prune plans deleting what the file does not name.
	Prune bool
	// Remote names servers outside the home's registry whose JWTs are
	// compared with the home's (drift); their claims protocol answers.
	Remote Remote
}

// ApplyOptions say how Apply applies a file.
type ApplyOptions struct {
	// NoUsers leaves users out: the file's are ignored, the home's kept.
	NoUsers bool
	// Prune deletes the accounts the file does not name, and revokes and
	// deletes the users of its accounts that it does not list.
	Prune bool
	// CredsDir, when set, receives the creds file of every user created,
	// as CredsDir/<account>/<user>.creds (0600).
	CredsDir string
}

// Applied is what Apply did.
type Applied struct {
	// Plan is what was done, as a plan describes it (Changes marked
	// applied), with the drift found and repaired.
	Plan *declare.Plan
	// Result says where the changed accounts were published.
	Result *Result
	// Creds are the creds files written into ApplyOptions.CredsDir.
	Creds []string
}

// Plan says what applying the file src to the home would change, object by object
// and field by field, and which accounts the stores the home's servers
// read (and the servers of o.Remote) serve differently from the home. It
// changes nothing. A file the home cannot take is refused whole (an
// *authority.ValidationError naming every problem with its line and
// column).
func (m *Manager) Plan(ctx context.Context, src declare.Source, o PlanOptions) (*declare.Plan, error) {
	if err := o.Remote.Check(); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	var f *declare.File
	rec, err := m.home.ReconcileFrom(func() (authority.DesiredState, error) {
		var err error
		if f, err = src.Parsed(); err != nil {
			return authority.DesiredState{}, err
		}
		return f.State(!o.NoUsers, o.Prune), nil
	}, true)
	if err != nil {
		return nil, err
	}
	p := declare.NewPlan(f, m.home.Dir(), rec)
	accs := rec.Current
	m.mu.Lock()
	tg, err := m.targets(ctx)
	m.mu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	for _, d := range m.storeDrift(ctx, tg, accs) {
		p.Drift = append(p.Drift, d.Drift)
	}
	p.Drift = append(p.Drift, m.serverDrift(ctx, o.Remote, accs)...)
	return p, nil
}

// Apply makes the home match the file src in one change: every object checked, then
// one commit; one audit entry per object changed, its actor the file (name
// and content hash) and the user of ctx; the changed accounts — and those
// of the file whose copy in a store the servers read is missing or older —
// published to every such store, and every running server waited for. A
// file with a problem is refused whole and nothing is written. Two applies
// on one home never interleave: the second waits for the first (at most
// Config.LockTimeout). A change that is saved but did not reach every
// server is a *PublishError.
func (m *Manager) Apply(ctx context.Context, src declare.Source, o ApplyOptions) (*Applied, error) {
	out := &Applied{}
	f, err := src.Parsed()
	if err != nil {
		return out, err
	}
	var created []*authority.UserInfo
	actx := fileActor(ctx, f)
	res, err := m.run(actx, func(c *change) error {
		rec, err := m.home.Reconcile(f.State(!o.NoUsers, o.Prune), false)
		if err != nil {
			return err
		}
		out.Plan = declare.NewPlan(f, m.home.Dir(), rec)
		for _, ch := range rec.Changes {
			c.audit(reconcileEntry(f, ch))
			if ch.Action == authority.Create && ch.UserInfo != nil {
				created = append(created, ch.UserInfo)
			}
		}
		c.published(rec.Published...)
		c.unpublish = append(c.unpublish, rec.Removed...)
		changed := map[string]bool{}
		for _, a := range rec.Published {
			changed[a.Name] = true
		}
		var rest []authority.AccountInfo
		for _, a := range rec.Current {
			if !changed[a.Name] {
				rest = append(rest, a)
			}
		}
		tg, err := m.targets(actx)
		if err != nil {
			return err
		}
		for _, d := range m.storeDrift(actx, tg, rest) {
			out.Plan.Drift = append(out.Plan.Drift, d.Drift)
			if d.republish {
				c.published(d.acc)
			}
		}
		return nil
	})
	out.Result = res
	if out.Plan == nil {
		return out, err
	}
	if o.CredsDir != "" {
		files, cerr := m.writeCreds(created, o.CredsDir)
		out.Creds = files
		err = errors.Join(err, cerr)
	}
	return out, err
}

// fileActor attributes the changes of ctx to the file: its name and
// content hash after the command, and the user as ctx says.
func fileActor(ctx context.Context, f *declare.File) context.Context {
	a := audit.ActorFrom(ctx)
	a.Command = strings.TrimSpace(fmt.Sprintf("%s -f %s (sha256 %s)", a.Command, f.Name, f.SHA256))
	return audit.WithActor(ctx, a)
}

// reconcileEntry is the audit entry of one object an apply changed.
func reconcileEntry(f *declare.File, ch authority.ObjectChange) audit.Entry {
	detail := "from " + cmp.Or(ch.Where, f.Name)
	if ch.Action == authority.Delete {
		detail = "not in " + f.Name + " (--prune)"
	}
	if ch.Note != "" {
		detail += "; " + ch.Note
	}
	if ch.User == "" {
		action := map[string]string{authority.Create: audit.ActionAddAccount, authority.Update: audit.ActionEditAccount,
			authority.Delete: audit.ActionDeleteAccount}[ch.Action]
		var before *authority.AccountInfo
		if ac, ok := ch.Before.(*jwt.AccountClaims); ok {
			before = &authority.AccountInfo{Name: ch.Account, Pub: ac.Subject, Claims: ac}
		}
		return accountEntry(action, before, ch.Info, detail)
	}
	action := map[string]string{authority.Create: audit.ActionAddUser, authority.Update: audit.ActionEditUser,
		authority.Delete: audit.ActionDeleteUser}[ch.Action]
	var before *authority.UserInfo
	if uc, ok := ch.Before.(*jwt.UserClaims); ok {
		before = &authority.UserInfo{Account: ch.Account, AccountPub: cmp.Or(uc.IssuerAccount, uc.Issuer),
			Name: ch.User, Pub: uc.Subject, Claims: uc}
	}
	return userEntry(action, before, ch.UserInfo, detail)
}

// storeDriftEntry is one account whose copy in a store differs.
type storeDriftEntry struct {
	declare.Drift
	acc       authority.AccountInfo
	republish bool // missing or older: publishing the home's JWT repairs it
}

// storeDrift compares each account's JWT with its copy in every store the
// home's servers read.
func (m *Manager) storeDrift(ctx context.Context, tg *targets, accs []authority.AccountInfo) []storeDriftEntry {
	var out []storeDriftEntry
	for _, t := range tg.stores {
		g, ok := t.sink.(getter)
		if !ok {
			continue
		}
		get := g.get
		if all, err := scanStore(ctx, t.sink, accs); err != nil || all != nil {
			get = func(_ context.Context, pub string) (string, error) { return all[pub], err }
		}
		found := make([]*storeDriftEntry, len(accs))
		forEach(len(accs), func(i int) {
			a := accs[i]
			tok, err := get(ctx, a.Pub)
			if d := compareJWT(a, tok, err); d != "" {
				found[i] = &storeDriftEntry{Drift: declare.Drift{Account: a.Name, Target: store.Redact(t.url), Problem: d},
					acc: a, republish: err == nil && !newer(tok, a)}
			}
		})
		for _, d := range found {
			if d != nil {
				out = append(out, *d)
			}
		}
	}
	return out
}

// scanStore reads the JWTs of accs from a store in one pass (store.Scan)
// when there are many of them: one query instead of one per account. It
// returns nil, nil when the store is better read account by account.
func scanStore(ctx context.Context, sink any, accs []authority.AccountInfo) (map[string]string, error) {
	ss, ok := sink.(storeSink)
	if !ok || len(accs) < 64 {
		return nil, nil
	}
	if _, ok := ss.st.(store.Scanner); !ok {
		return nil, nil
	}
	want := make(map[string]bool, len(accs))
	for _, a := range accs {
		want[a.Pub] = true
	}
	all := make(map[string]string, len(accs))
	err := store.Scan(ctx, ss.st, func(r store.Record) error {
		if want[r.Account] {
			all[r.Account] = r.JWT
		}
		return nil
	})
	return all, err
}

// serverDrift compares each account's JWT with what the servers of r
// answer to a claims lookup.
func (m *Manager) serverDrift(ctx context.Context, r Remote, accs []authority.AccountInfo) []declare.Drift {
	var out []declare.Drift
	for _, s := range r.Servers {
		target := store.Redact(s)
		nc, err := m.Connect(r, s, "natsauth plan")
		if err != nil {
			out = append(out, declare.Drift{Target: target, Problem: err.Error()})
			continue
		}
		c := claims.NewClient(nc, r.Wait)
		found := make([][]declare.Drift, len(accs))
		forEach(len(accs), func(i int) {
			toks, err := c.Lookup(ctx, accs[i].Pub)
			if err != nil {
				found[i] = append(found[i], declare.Drift{Account: accs[i].Name, Target: target, Problem: err.Error()})
			}
			for _, tok := range toks {
				if d := compareJWT(accs[i], tok, nil); d != "" {
					found[i] = append(found[i], declare.Drift{Account: accs[i].Name, Target: target, Problem: d})
				}
			}
		})
		nc.Close()
		for _, f := range found {
			out = append(out, f...)
		}
	}
	return out
}

// compareJWT says how a served JWT differs from the home's ("" when it is
// the same); err is the error of reading it.
func compareJWT(a authority.AccountInfo, tok string, err error) string {
	switch {
	case err != nil:
		return "cannot read it: " + err.Error()
	case tok == "":
		return "missing (apply publishes it)"
	case tok == a.JWT:
		return ""
	case newer(tok, a):
		return "holds a newer JWT than the home (natsauth pull imports it; apply leaves it)"
	}
	return "holds another JWT than the home's (apply publishes the home's)"
}

// newer reports whether tok was issued after the home's JWT of a.
func newer(tok string, a authority.AccountInfo) bool {
	ac, err := jwt.DecodeAccountClaims(tok)
	return err == nil && ac.IssuedAt > a.Claims.IssuedAt
}

// getter reads an account's JWT where a sink writes it: "" when absent.
type getter interface {
	get(ctx context.Context, pub string) (string, error)
}

func (s storeSink) get(ctx context.Context, pub string) (string, error) {
	rec, err := s.st.Get(ctx, pub)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	}
	return rec.JWT, err
}

func (s accountServerSink) get(ctx context.Context, pub string) (string, error) {
	tok, err := s.as.Get(ctx, pub)
	if errors.Is(err, claims.ErrNotFound) {
		return "", nil
	}
	return tok, err
}

// writeCreds writes the creds of the users an apply created into dir.
func (m *Manager) writeCreds(users []*authority.UserInfo, dir string) ([]string, error) {
	var files []string
	var errs []error
	made := map[string]bool{}
	for _, u := range users {
		creds, err := m.home.CredsFor(u)
		if errors.Is(err, authority.ErrNotFound) {
			continue // issued from a public key: its seed is elsewhere
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		d := filepath.Join(dir, u.Account)
		if !made[d] {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return files, fmt.Errorf("creds dir: %w", err)
			}
			made[d] = true
		}
		path := filepath.Join(d, u.Name+".creds")
		if err := os.WriteFile(path, creds, 0o600); err != nil {
			errs = append(errs, fmt.Errorf("write creds: %w", err))
			continue
		}
		files = append(files, path)
	}
	return files, errors.Join(errs...)
}
