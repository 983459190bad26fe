package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
)

// DefaultExpiryWindow is how soon an expiry must be to be reported.
const DefaultExpiryWindow = 30 * 24 * time.Hour

// Options tune the checks.
type Options struct {
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// ExpiryWindow: accounts and users expiring sooner are reported
	// (DefaultExpiryWindow when zero).
	ExpiryWindow time.Duration
	// Command is how fixes invoke natsauth, e.g. "natsauth --home /srv/h"
	// ("natsauth" when empty).
	Command string
}

func (o *Options) defaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.ExpiryWindow == 0 {
		o.ExpiryWindow = DefaultExpiryWindow
	}
	if o.Command == "" {
		o.Command = "natsauth"
	}
}

// checker collects findings for one run.
type checker struct {
	o   Options
	h   *authority.Home
	now time.Time
	out []Finding
	// operatorRotation is set when an operator key rotation is pending.
	operatorRotation bool
}

func (c *checker) add(sev Severity, check, object, why, fix string) {
	c.out = append(c.out, Finding{Severity: sev, Check: check, Object: object, Why: why, Fix: fix})
}

// cmd renders a natsauth command line.
func (c *checker) cmd(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = shellQuote(a)
	}
	return c.o.Command + " " + strings.Join(q, " ")
}

// CheckHome checks the operator, accounts, users and key files of a home.
func CheckHome(h *authority.Home, o Options) ([]Finding, error) {
	o.defaults()
	c := &checker{o: o, h: h, now: o.Now()}
	if err := c.rotations(); err != nil {
		return nil, err
	}
	c.operator()
	accs, err := h.Accounts()
	if err != nil {
		return nil, fmt.Errorf("doctor: %w", err)
	}
	for i := range accs {
		users, err := h.Users(accs[i].Name)
		if err != nil {
			return nil, fmt.Errorf("doctor: %w", err)
		}
		c.account(&accs[i], users)
	}
	if err := c.imports(); err != nil {
		return nil, err
	}
	if err := c.files(); err != nil {
		return nil, err
	}
	left, err := CheckLeftovers(o, h.Dir())
	if err != nil {
		return nil, err
	}
	c.out = append(c.out, left...)
	Sort(c.out)
	return c.out, nil
}

func (c *checker) operator() {
	op := c.h.Operator()
	obj := "operator " + c.h.OperatorName()
	// The seed is needed for the operator edits suggested below: advise
	// keeping it offline only once none is left.
	seed := seedPath(c.h, op.Subject)
	if _, err := os.Stat(seed); err == nil && op.StrictSigningKeyUsage && !c.operatorRotation {
		c.add(Low, CheckOperatorSeed, obj,
			"the operator identity seed is in the keystore: whoever reads it can sign a new operator JWT and any account. "+
				"natsauth needs it only to edit the operator (signing keys, --require-signing-keys); accounts are signed by signing keys",
			fmt.Sprintf("move %s to offline storage, and bring it back only to edit the operator", shellQuote(seed)))
	}
	if !op.StrictSigningKeyUsage {
		c.add(Low, CheckNoRequireSK, obj,
			"servers accept accounts signed by the operator identity key and users signed by account identity keys, "+
				"so a leaked identity seed cannot be retired by rotating a signing key (once set, keep the operator identity seed offline)",
			c.cmd("edit", "operator", "--require-signing-keys"))
	}
}

func (c *checker) rotations() error {
	rs, err := c.h.PendingRotations()
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	for _, r := range rs {
		if r.Kind == authority.RotateOperator {
			c.operatorRotation = true
			c.add(Medium, CheckRotation, "operator "+c.h.OperatorName(),
				fmt.Sprintf("a rotation of operator signing key %s started %s is not finished: both keys are trusted",
					r.Old, r.Started.Format(time.RFC3339)),
				c.cmd("rotate", "operator-signing-key", "--servers-restarted")+"   # after restarting every server with the new operator JWT")
			continue
		}
		c.add(Medium, CheckRotation, "account "+r.Account,
			fmt.Sprintf("a rotation of signing key %s started %s is not finished: the old key still signs valid users",
				r.Old, r.Started.Format(time.RFC3339)),
			c.cmd("rotate", "account-signing-key", "-a", r.Account))
	}
	return nil
}

func (c *checker) account(acc *authority.AccountInfo, users []authority.UserInfo) {
	obj := "account " + acc.Name
	ac := acc.Claims
	if ac.Issuer == c.h.Operator().Subject {
		c.add(Medium, CheckAccountByOperatorID, obj,
			"the account is signed by the operator identity key, not a signing key: it cannot be moved off that key by a rotation",
			c.cmd("edit", "operator", "--require-signing-keys")+"   # re-signs it with the operator signing key")
	}
	c.expiry(obj, ac.Expires, "all its users are refused once it expires",
		c.cmd("edit", "account", acc.Name, "--expiry", "1y"))
	if !acc.System {
		l := ac.Limits
		if l.Conn < 0 && l.LeafNodeConn < 0 && l.Data < 0 && l.Payload < 0 && l.Subs < 0 && l.Imports < 0 && l.Exports < 0 {
			c.add(Medium, CheckAccountNoLimits, obj,
				"the account has no limits: one misbehaving client can take every connection, subscription and byte the servers have",
				c.cmd("edit", "account", acc.Name, "--max-connections", "1000", "--max-data", "1GB", "--max-payload", "1MB",
					"--max-subscriptions", "1000"))
		} else if l.Conn < 0 {
			c.add(Low, CheckAccountNoConnLimit, obj,
				"the account has no connection limit: a leaked creds file or a reconnect storm can exhaust the servers",
				c.cmd("edit", "account", acc.Name, "--max-connections", "1000"))
		}
	}
	var byIdentity []string
	for i := range users {
		u := &users[i]
		if u.Claims.Issuer == acc.Pub {
			byIdentity = append(byIdentity, u.Name)
		}
		c.user(acc, u)
	}
	if len(byIdentity) > 0 {
		c.add(Low, CheckUserByAccountID, obj,
			fmt.Sprintf("users %s are signed by the account identity key: a leak of that seed cannot be undone by rotation "+
				"(rotating a signing key re-issues users and retires the key)", strings.Join(byIdentity, ", ")),
			c.cmd("rotate", "account-signing-key", "-a", acc.Name)+"   # moves them to a new signing key")
	}
	for _, k := range sortedScopes(ac) {
		c.permissions(acc, "signing key "+acc.Name+"/"+k.Key, k.Template.Permissions, true, k.Key)
	}
}

func sortedScopes(ac *jwt.AccountClaims) []*jwt.UserScope {
	var out []*jwt.UserScope
	for _, s := range ac.SigningKeys {
		if us, ok := s.(*jwt.UserScope); ok && us != nil {
			out = append(out, us)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func (c *checker) user(acc *authority.AccountInfo, u *authority.UserInfo) {
	obj := "user " + acc.Name + "/" + u.Name
	uc := u.Claims
	edit := []string{"edit", "user", "-a", acc.Name, "-n", u.Name}
	if uc.BearerToken {
		c.add(High, CheckBearer, obj,
			"a bearer token connects with the JWT alone, without proving it holds the seed: anyone who sees the JWT "+
				"(a log line, a proxy, a browser) can connect as this user",
			c.cmd(append(edit, "--bearer=false")...))
	}
	c.expiry(obj, uc.Expires, "the user is refused once it expires", c.cmd(append(edit, "--expiry", "90d")...))
	if acc.System {
		return // the system account's users monitor every server: they need the whole $SYS namespace
	}
	if uc.Expires == 0 {
		c.add(Low, CheckUserNoExpiry, obj,
			"the user JWT never expires: a leaked creds file works until the user is revoked",
			c.cmd(append(edit, "--expiry", "90d")...))
	}
	if _, scoped := acc.Claims.SigningKeys[uc.Issuer].(*jwt.UserScope); scoped {
		return // its permissions are its signing key's template, checked once per key
	}
	c.permissions(acc, obj, uc.Permissions, false, u.Name)
}

// permissions reports publish and subscribe permissions that reach every
// subject: an allow list with ">" or no allow list at all.
func (c *checker) permissions(acc *authority.AccountInfo, obj string, p jwt.Permissions, scope bool, name string) {
	for _, side := range []struct {
		check, verb, flag string
		allow             jwt.StringList
	}{
		{CheckPubAll, "publish", "--allow-pub", p.Pub.Allow},
		{CheckSubAll, "subscribe", "--allow-sub", p.Sub.Allow},
	} {
		wild := side.allow.Contains(">")
		if !wild && len(side.allow) > 0 {
			continue
		}
		why := fmt.Sprintf("it may %s to every subject of the account (%s); grant only the subjects it needs", side.verb,
			map[bool]string{true: `allow ">"`, false: "no allow list"}[wild])
		if scope {
			why = "the template of this scoped signing key gives every user it signs: " + why
		}
		args := []string{"edit", "user", "-a", acc.Name, "-n", name}
		if scope {
			args = []string{"edit", "signing-key", "-a", acc.Name, "--sk", name}
		}
		if wild {
			args = append(args, "--rm", ">")
		}
		args = append(args, side.flag)
		fix := c.cmd(args...) + " '<the subjects it needs>'"
		c.add(Medium, side.check, obj, why, fix)
	}
}

// expiry reports an expired object, or one expiring within the window.
func (c *checker) expiry(obj string, exp int64, consequence, fix string) {
	if exp == 0 {
		return
	}
	at := time.Unix(exp, 0).UTC()
	switch {
	case !at.After(c.now):
		c.add(Medium, CheckExpired, obj, fmt.Sprintf("it expired %s: %s", at.Format(time.RFC3339), consequence), fix)
	case at.Sub(c.now) < c.o.ExpiryWindow:
		c.add(Medium, CheckExpiring, obj, fmt.Sprintf("it expires %s, in %s: %s", at.Format(time.RFC3339),
			at.Sub(c.now).Round(time.Hour), consequence), fix)
	}
}

// seedPath is where nsc keeps the seed of pub in the home's keystore.
func seedPath(h *authority.Home, pub string) string {
	return filepath.Join(h.KeysDir(), "keys", pub[0:1], pub[1:3], pub+".nk")
}

// secretFile reports whether a file in the home holds a secret: a seed, a
// creds file or a TLS private key.
func secretFile(name string) bool {
	return strings.HasSuffix(name, ".nk") || strings.HasSuffix(name, ".creds") ||
		strings.HasSuffix(name, ".pem") && strings.Contains(name, "key")
}

// secretDirs are the directories whose contents are secret.
func secretDirs(h *authority.Home) []string {
	return []string{h.KeysDir(), filepath.Join(h.Dir(), "tls")}
}

func (c *checker) files() error {
	fix := c.cmd("doctor", "--fix-permissions")
	if fi, err := os.Stat(c.h.Dir()); err == nil && fi.Mode().Perm()&0o077 != 0 {
		c.add(Medium, CheckDirMode, "directory "+c.h.Dir(),
			fmt.Sprintf("the home is %o: other users can list it and read its JWTs and account database; keep it 0700", fi.Mode().Perm()), fix)
	}
	for _, root := range secretDirs(c.h) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			perm := fi.Mode().Perm()
			switch {
			case d.IsDir() && perm&0o077 != 0:
				c.add(High, CheckDirMode, "directory "+p,
					fmt.Sprintf("it is %o: other users can reach the seeds and creds under it; keep it 0700", perm), fix)
			case fi.Mode().IsRegular() && secretFile(d.Name()) && perm&0o077 != 0:
				c.add(High, CheckFileMode, "file "+p,
					fmt.Sprintf("it is %o and holds a private key: other users can read it and connect or sign as its owner; keep it 0600", perm), fix)
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("doctor: check permissions under %s: %w", root, err)
		}
	}
	return nil
}

// FixPermissions makes the home and the directories holding seeds, creds
// and TLS keys 0700, and those files 0600. It returns what it changed.
func FixPermissions(h *authority.Home) ([]string, error) {
	var changed []string
	chmod := func(p string, mode os.FileMode, cur os.FileMode) error {
		if cur.Perm()&0o077 == 0 {
			return nil
		}
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
		changed = append(changed, fmt.Sprintf("%s %o -> %o", p, cur.Perm(), mode))
		return nil
	}
	if fi, err := os.Stat(h.Dir()); err == nil {
		if err := chmod(h.Dir(), 0o700, fi.Mode()); err != nil {
			return changed, fmt.Errorf("fix permissions: %w", err)
		}
	}
	for _, root := range secretDirs(h) {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			switch {
			case d.IsDir():
				return chmod(p, 0o700, fi.Mode())
			case fi.Mode().IsRegular() && secretFile(d.Name()):
				return chmod(p, 0o600, fi.Mode())
			}
			return nil
		})
		if err != nil {
			return changed, fmt.Errorf("fix permissions under %s: %w", root, err)
		}
	}
	return changed, nil
}

// HomeCommand is Options.Command for a home named on the command line:
// natsauth --home DIR, DIR quoted for a shell when it needs it.
func HomeCommand(dir string) string { return "natsauth --home " + shellQuote(dir) }
