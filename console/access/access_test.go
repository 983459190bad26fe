package access

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/password"
	"github.com/natsauth/natsauth/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

var fast = Options{Password: password.Fast}

// backends opens one Access per way of keeping console users.
func backends(t *testing.T) map[string]*Access {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	out := map[string]*Access{}
	for name, u := range map[string]string{
		"sqlite":   "sqlite://" + filepath.Join(dir, "accounts.db"),
		"postgres": pgtest.Start(t).NewDatabase(t),
		"file":     "dir://" + filepath.Join(dir, "jwt"),
	} {
		a, err := Open(ctx, dir, u, fast)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		t.Cleanup(func() { a.Close() })
		out[name] = a
	}
	m, _ := OpenMemory(fast)
	out["memory"] = m
	return out
}

func TestUsersTokensSessions(t *testing.T) {
	ctx := context.Background()
	for name, a := range backends(t) {
		t.Run(name, func(t *testing.T) {
			if _, err := a.AddUser(ctx, "root", OperatorAdmin, "", "correct horse battery"); err != nil {
				t.Fatal(err)
			}
			if _, err := a.AddUser(ctx, "root", OperatorAdmin, "", "correct horse battery"); !errors.Is(err, ErrExists) {
				t.Errorf("second add: %v, want ErrExists", err)
			}
			_, err := a.AddUser(ctx, "bad name", AccountAdmin, "", "short")
			var fe FieldErrors
			if !errors.As(err, &fe) || len(fe) != 3 || !errors.Is(err, ErrInvalid) {
				t.Errorf("bad user: %v, want 3 field errors (name, account, password)", err)
			}
			if _, err := a.Authenticate(ctx, "root", "wrong password"); !errors.Is(err, ErrBadPassword) {
				t.Errorf("wrong password: %v", err)
			}
			if _, err := a.Authenticate(ctx, "nobody", "wrong password"); !errors.Is(err, ErrBadPassword) {
				t.Errorf("unknown user: %v", err)
			}
			u, err := a.Authenticate(ctx, "root", "correct horse battery")
			if err != nil || u.Role != OperatorAdmin {
				t.Fatalf("authenticate: %v %+v", err, u)
			}
			id, s, err := a.NewSession(ctx, "root")
			if err != nil || s.CSRF == "" {
				t.Fatal(err)
			}
			if _, su, err := a.Session(ctx, id); err != nil || su.Name != "root" {
				t.Fatalf("session: %v", err)
			}
			if _, _, err := a.Session(ctx, id+"x"); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("forged session: %v", err)
			}
			secret, tok, err := a.NewToken(ctx, "root", "ci", time.Hour)
			if err != nil || !strings.HasPrefix(secret, tokenPrefix) {
				t.Fatal(err)
			}
			if tu, _, err := a.TokenUser(ctx, secret); err != nil || tu.Name != "root" {
				t.Fatalf("token: %v", err)
			}
			if _, _, err := a.TokenUser(ctx, flipLast(secret)); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("forged token: %v", err)
			}
			toks, _ := a.Tokens(ctx, "root")
			if len(toks) != 1 || toks[0].Hash != "" || toks[0].ID != tok.ID {
				t.Errorf("tokens = %+v", toks)
			}
			// A new password ends the sessions.
			if err := a.SetPassword(ctx, "root", "another good one"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.Session(ctx, id); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("session after password change: %v", err)
			}
			if err := a.DeleteUser(ctx, "root"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := a.TokenUser(ctx, secret); !errors.Is(err, ErrUnauthorized) {
				t.Errorf("token of a deleted user: %v", err)
			}
		})
	}
}

// Nothing stored holds a password or token in the clear.
func TestNoSecretsAtRest(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Open(ctx, dir, "mem://", fast)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.AddUser(ctx, "root", OperatorAdmin, "", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	secret, _, _ := a.NewToken(ctx, "root", "ci", 0)
	id, _, _ := a.NewSession(ctx, "root")
	raw, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"correct horse battery", secret, id} {
		if strings.Contains(string(raw), s) {
			t.Errorf("the users file holds a secret in the clear")
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, FileName)); fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode %v", fi.Mode().Perm())
	}
}

func TestRoles(t *testing.T) {
	for _, c := range []struct {
		u            User
		read, change bool // on account A
		opChange     bool
	}{
		{User{Role: OperatorAdmin}, true, true, true},
		{User{Role: OperatorObserver}, true, false, false},
		{User{Role: AccountAdmin, Account: "A"}, true, true, false},
		{User{Role: AccountObserver, Account: "A"}, true, false, false},
		{User{Role: AccountAdmin, Account: "B"}, false, false, false},
	} {
		if c.u.CanRead("A") != c.read || c.u.CanChange("A") != c.change || c.u.CanChange("") != c.opChange {
			t.Errorf("%s of %q: read %v change %v op %v", c.u.Role, c.u.Account, c.u.CanRead("A"), c.u.CanChange("A"), c.u.CanChange(""))
		}
	}
}

// flipLast changes the last character of s.
func flipLast(s string) string {
	c := "A"
	if strings.HasSuffix(s, "A") {
		c = "B"
	}
	return s[:len(s)-1] + c
}
