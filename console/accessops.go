package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/natsauth/natsauth/console/access"
	"github.com/natsauth/natsauth/manage"
)

// ErrNoUsers is EnsureAdmin's refusal when there is no console user and
// none is to be made.
var ErrNoUsers = errors.New("console: there is no console user yet")

// Admin changes the console users and API tokens and records each change
// in the core's audit log, with the actor from the context: the steps the
// HTTP API and `natsauth console user|token` share. The change itself is
// the access package's; the record is the core's (Manager.RecordAccessChange).
type Admin struct {
	Manager *manage.Manager
	Access  *access.Access
}

// OpenAdmin opens the console users kept with m's primary store (see
// access.Open); the caller closes Admin.Access.
func OpenAdmin(ctx context.Context, m *manage.Manager) (Admin, error) {
	acc, err := access.Open(ctx, m.Home().Dir(), m.StoreURL(), access.Options{})
	return Admin{Manager: m, Access: acc}, err
}

// AddUser adds a console user; note, when given, is added to the audit
// record (e.g. "(--init-admin)").
func (a Admin) AddUser(ctx context.Context, name string, role access.Role, account, password, note string) (*access.User, error) {
	u, err := a.Access.AddUser(ctx, name, role, account, password)
	if err != nil {
		return nil, err
	}
	detail := u.Label()
	if note != "" {
		detail += " " + note
	}
	return u, a.Manager.RecordAccessChange(ctx, manage.ActionAddConsoleUser, detail)
}

// Listen serves a console for a on addr (HTTPS with certFile and keyFile)
// with live state from the servers remote names — `natsauth console` —
// after making sure someone can sign in (EnsureAdmin): the password of an
// admin it made is returned, even with an error, to be shown once.
func (a Admin) Listen(ctx context.Context, remote manage.Remote, initAdmin, addr, certFile, keyFile string,
	log *slog.Logger) (l *Listener, madePassword string, err error) {
	pw, err := a.EnsureAdmin(ctx, initAdmin)
	if err != nil {
		return nil, "", err
	}
	if err := remote.Check(); err != nil {
		return nil, pw, err
	}
	l, err = Listen(ctx, Config{Manager: a.Manager, Access: a.Access, Connect: a.Manager.SystemConnector(remote, "natsauth console"),
		Logger: log}, addr, certFile, keyFile)
	return l, pw, err
}

// CheckScope refuses an account role scoped to an account of the home
// that does not exist; every other role and account passes.
func (a Admin) CheckScope(role access.Role, account string) error {
	if !role.Scoped() || account == "" {
		return nil
	}
	_, err := a.Manager.Home().Account(account)
	return err
}

// SetPassword sets a console user's password, which ends its sessions.
func (a Admin) SetPassword(ctx context.Context, name, password string) error {
	if err := a.Access.SetPassword(ctx, name, password); err != nil {
		return err
	}
	return a.Manager.RecordAccessChange(ctx, manage.ActionEditConsoleUser, name+": password changed")
}

// DeleteUser removes a console user with its sessions and API tokens and
// returns what it was.
func (a Admin) DeleteUser(ctx context.Context, name string) (*access.User, error) {
	u, err := a.Access.User(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := a.Access.DeleteUser(ctx, name); err != nil {
		return nil, err
	}
	return u, a.Manager.RecordAccessChange(ctx, manage.ActionDeleteConsoleUser, u.Label())
}

// NewToken makes an API token acting as user, valid for ttl (0: no
// expiry), and returns its secret, which is shown once and kept nowhere.
func (a Admin) NewToken(ctx context.Context, user, name string, ttl time.Duration) (string, *access.Token, error) {
	secret, tok, err := a.Access.NewToken(ctx, user, name, ttl)
	if err != nil {
		return "", nil, err
	}
	return secret, tok, a.Manager.RecordAccessChange(ctx, manage.ActionAddAPIToken,
		fmt.Sprintf("token %s %q of %s", tok.ID, tok.Name, user))
}

// EnsureAdmin makes sure a console can be signed in to: when there is no
// console user yet, it makes name an operator admin with a generated
// password and returns that password, to be shown once. With users it
// does nothing and returns ""; without users and without name it returns
// ErrNoUsers.
func (a Admin) EnsureAdmin(ctx context.Context, name string) (string, error) {
	users, err := a.Access.Users(ctx)
	if err != nil || len(users) > 0 {
		return "", err
	}
	if name == "" {
		return "", ErrNoUsers
	}
	pw, err := access.NewPassword()
	if err != nil {
		return "", err
	}
	if _, err := a.AddUser(ctx, name, access.OperatorAdmin, "", pw, "(--init-admin)"); err != nil {
		return "", err
	}
	return pw, nil
}
