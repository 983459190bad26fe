package userdb

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// fast are cheap argon2id costs for tests; the format and the check are
// the same as with DefaultParams.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

type backend struct {
	name string
	url  func(t *testing.T) string
}

var backends = []backend{
	{"sqlite", func(t *testing.T) string { return "sqlite://" + filepath.Join(t.TempDir(), "accounts.db") }},
	{"postgres", func(t *testing.T) string { return pgtest.Start(t).NewDatabase(t) }},
}

func open(t *testing.T, url string, log audit.Log) *DB {
	t.Helper()
	d, err := Open(context.Background(), url, Options{Audit: log, Params: fast})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestUserDB(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := audit.WithActor(context.Background(), audit.Actor{Via: audit.ViaCLI, Command: "natsauth callout user"})
			url := b.url(t)
			log := &audit.Memory{}
			d := open(t, url, log)

			if err := d.Add(ctx, "alice", "correct horse", []string{"orders", "admins"}); err != nil {
				t.Fatal(err)
			}
			if err := d.Add(ctx, "bob", "battery staple", nil); err != nil {
				t.Fatal(err)
			}
			if err := d.Add(ctx, "alice", "another secret", nil); !errors.Is(err, ErrExists) {
				t.Errorf("second add = %v, want ErrExists", err)
			}
			u, err := d.Authenticate(ctx, "alice", "correct horse")
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if got, want := strings.Join(u.Groups, ","), "admins,orders"; got != want {
				t.Errorf("groups = %q, want %q", got, want)
			}
			for _, c := range []struct {
				name, pw string
				want     error
			}{
				{"alice", "guessing-1234", ErrBadPassword},
				{"alice", "", ErrBadPassword},
				{"carol", "correct horse", ErrNotFound},
			} {
				_, err := d.Authenticate(ctx, c.name, c.pw)
				if !errors.Is(err, c.want) {
					t.Errorf("Authenticate(%s) = %v, want %v", c.name, err, c.want)
				}
				if err != nil && c.pw != "" && strings.Contains(err.Error(), c.pw) {
					t.Errorf("error repeats the password: %v", err)
				}
			}

			_, rev0, err := d.ChangedSince(ctx, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := d.SetDisabled(ctx, "bob", true); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Authenticate(ctx, "bob", "battery staple"); !errors.Is(err, ErrDisabled) {
				t.Errorf("disabled bob = %v, want ErrDisabled", err)
			}
			// A disabled user with a wrong password is told "wrong password":
			// the disabled state is not revealed to a guesser.
			if _, err := d.Authenticate(ctx, "bob", "guess guess"); !errors.Is(err, ErrBadPassword) {
				t.Errorf("disabled bob, wrong password = %v, want ErrBadPassword", err)
			}
			changed, rev1, err := d.ChangedSince(ctx, rev0)
			if err != nil {
				t.Fatal(err)
			}
			if len(changed) != 1 || changed[0].Name != "bob" || !changed[0].Disabled || rev1 <= rev0 {
				t.Errorf("ChangedSince = %+v, rev %d→%d; want bob disabled", changed, rev0, rev1)
			}
			if err := d.SetPassword(ctx, "alice", "new password!"); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Authenticate(ctx, "alice", "correct horse"); !errors.Is(err, ErrBadPassword) {
				t.Errorf("old password = %v, want ErrBadPassword", err)
			}
			if _, err := d.Authenticate(ctx, "alice", "new password!"); err != nil {
				t.Errorf("new password: %v", err)
			}
			if err := d.SetDisabled(ctx, "bob", false); err != nil {
				t.Fatal(err)
			}
			if err := d.SetPassword(ctx, "nobody", "whatever123"); !errors.Is(err, ErrNotFound) {
				t.Errorf("passwd nobody = %v, want ErrNotFound", err)
			}
			users, err := d.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(users) != 2 || users[0].Name != "alice" || users[1].Name != "bob" || users[1].Disabled {
				t.Errorf("List = %+v", users)
			}

			// A second process sees the same users (same database).
			d2 := open(t, url, nil)
			if _, err := d2.Authenticate(ctx, "alice", "new password!"); err != nil {
				t.Errorf("second handle: %v", err)
			}

			// Audit: one entry per change, attributed, without secrets.
			entries, _ := log.Read(ctx, audit.Query{})
			var actions []string
			for _, e := range entries {
				actions = append(actions, e.Action+" "+e.UserName)
				if e.Via != audit.ViaCLI || e.OSUser == "" {
					t.Errorf("entry %+v not attributed", e)
				}
				line := e.String()
				for _, secret := range []string{"correct horse", "battery staple", "new password!", "argon2"} {
					if strings.Contains(line, secret) {
						t.Errorf("audit entry %q holds a secret", line)
					}
				}
			}
			want := "callout add user alice|callout add user bob|callout disable user bob|callout passwd user alice|callout enable user bob"
			if got := strings.Join(actions, "|"); got != want {
				t.Errorf("audit = %s\nwant    %s", got, want)
			}
		})
	}
}

func TestUserDBRefusesBadInput(t *testing.T) {
	d := open(t, "sqlite://"+filepath.Join(t.TempDir(), "a.db"), nil)
	ctx := context.Background()
	for _, c := range []struct{ name, pw string }{
		{"", "long enough"}, {"has space", "long enough"}, {"ok", "short"}, {"ok", strings.Repeat("x", 1025)},
	} {
		if err := d.Add(ctx, c.name, c.pw, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("Add(%q) = %v, want ErrInvalid", c.name, err)
		} else if len(c.pw) < 100 && strings.Contains(err.Error(), c.pw) {
			t.Errorf("error repeats the password: %v", err)
		}
	}
	if err := d.Add(ctx, "ok", "long enough", []string{"a,b"}); !errors.Is(err, ErrInvalid) {
		t.Errorf("group with comma = %v, want ErrInvalid", err)
	}
	for _, u := range []string{"dir:///tmp/x", "mem://", "http://127.0.0.1:1/jwt/v1/accounts/"} {
		if _, err := Open(ctx, u, Options{}); !errors.Is(err, ErrUnsupported) {
			t.Errorf("Open(%s) = %v, want ErrUnsupported", u, err)
		}
	}
}

func TestUserDBStoresArgon2idHashesOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "accounts.db")
	d := open(t, "sqlite://"+path, nil)
	ctx := context.Background()
	if err := d.Add(ctx, "alice", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", fi.Mode().Perm())
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var hash string
	if err := db.QueryRow(`SELECT hash FROM callout_users WHERE name = 'alice'`).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=64,t=1,p=1$") || strings.Contains(hash, "correct horse") {
		t.Errorf("stored hash = %q", hash)
	}
	// Two users with the same password get different salts.
	if err := d.Add(ctx, "bob", "correct horse", nil); err != nil {
		t.Fatal(err)
	}
	var hash2 string
	_ = db.QueryRow(`SELECT hash FROM callout_users WHERE name = 'bob'`).Scan(&hash2)
	if hash2 == hash {
		t.Error("same hash for the same password: no salt")
	}
}

func TestHashDefaultsAndTampering(t *testing.T) {
	h, err := hashPassword("correct horse", DefaultParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("default hash %q", h)
	}
	if ok, err := checkPassword(h, "correct horse"); !ok || err != nil {
		t.Errorf("check = %v, %v", ok, err)
	}
	tampered := h[:len(h)-2] + "AA"
	if tampered == h {
		tampered = h[:len(h)-2] + "BB"
	}
	if ok, _ := checkPassword(tampered, "correct horse"); ok {
		t.Error("tampered hash accepted")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=0,t=1,p=1$AA$AA", "plain"} {
		if _, err := checkPassword(bad, "x"); !errors.Is(err, errBadHash) {
			t.Errorf("checkPassword(%q) = %v, want errBadHash", bad, err)
		}
	}
}
