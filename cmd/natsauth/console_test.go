package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/audit"
	"github.com/natsauth/natsauth/manage"
)

// console user add/list/passwd/remove change the console users kept with
// the home's store, each change audited; bad input names the flag and
// changes nothing.
func TestConsoleUserCommands(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if _, _, err := runCLI(t, "init", "--name", "Op", "--home", home); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCLI(t, "console", "user", "add", "root", "--role", "operator-admin", "--home", home)
	if err != nil || !strings.Contains(out, "password (shown only now): ") {
		t.Fatalf("add: %v\n%s", err, out)
	}
	_, _, err = runCLI(t, "console", "user", "add", "x", "--role", "captain", "--home", home)
	if err == nil || !strings.Contains(err.Error(), "--role") {
		t.Errorf("bad role: %v", err)
	}
	_, _, err = runCLI(t, "console", "user", "add", "y", "--role", "account-admin", "--account", "Nope", "--home", home)
	if err == nil || !strings.Contains(err.Error(), "--account") {
		t.Errorf("missing account: %v", err)
	}
	out, _, err = runCLI(t, "console", "user", "list", "--json", "--home", home)
	if err != nil || strings.Contains(out, "argon2") || !strings.Contains(out, `"root"`) || strings.Contains(out, `"x"`) {
		t.Fatalf("list: %v\n%s", err, out)
	}
	if _, _, err := runCLI(t, "console", "user", "passwd", "root", "--home", home); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "console", "user", "remove", "root", "--home", home); err != nil {
		t.Fatal(err)
	}
	m, err := manage.Open(manage.Config{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	entries, err := m.Audit(t.Context(), audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range entries {
		if strings.Contains(e.Action, "console user") {
			actions = append(actions, e.Action)
			if e.Via != audit.ViaCLI || strings.Contains(e.Detail, "argon2") {
				t.Errorf("entry %+v", e)
			}
		}
	}
	want := "add console user,edit console user,delete console user"
	if strings.Join(actions, ",") != want {
		t.Errorf("audited %v, want %s", actions, want)
	}
}

var consoleRe = regexp.MustCompile(`natsauth console on (http://[0-9.:]+)`)

// natsauth console refuses to start without a console user; --init-admin
// makes one and prints its password once; serve --console serves the same
// console inside a node.
func TestConsoleCommandServes(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	if _, _, err := runCLI(t, "init", "--name", "Op", "--home", home); err != nil {
		t.Fatal(err)
	}
	_, _, err := runCLI(t, "console", "--listen", "127.0.0.1:0", "--home", home)
	if err == nil || !strings.Contains(err.Error(), "no console user") {
		t.Fatalf("console without users: %v", err)
	}
	bg := startBackground(t, "console", "--listen", "127.0.0.1:0", "--init-admin", "boss", "--home", home)
	base := bg.wait(t, bg.out, consoleRe, 30*time.Second)[1]
	if !regexp.MustCompile(`made console user boss \(operator-admin\); its password, shown only now: \S{16,}`).MatchString(bg.out.String()) {
		t.Errorf("no one-time password shown:\n%s", bg.out.String())
	}
	get := func(url string) (int, string) {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get(base + "/api/openapi.json"); st != 200 || !json.Valid([]byte(body)) {
		t.Fatalf("openapi: %d", st)
	}
	if st, body := get(base + "/"); st != 200 || !strings.Contains(body, "natsauth console") {
		t.Fatalf("index: %d", st)
	}
	if st, _ := get(base + "/api/accounts"); st != 401 {
		t.Errorf("unauthenticated: %d", st)
	}

	srv := startBackground(t, "serve", "--home", home, "-a", "127.0.0.1", "-p", "-1", "--console", "127.0.0.1:0")
	cbase := srv.wait(t, srv.out, consoleRe, time.Minute)[1]
	if st, _ := get(cbase + "/api/openapi.json"); st != 200 {
		t.Errorf("serve --console: %d", st)
	}
}
