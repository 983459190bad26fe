package serving

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nkeys"
)

func TestPickStore(t *testing.T) {
	for _, tc := range []struct {
		explicit, conf, want string
		from                 Source
	}{
		{"postgres://db/x", "dir:///jwt", "postgres://db/x", FromFlag},
		{"", "dir:///jwt", "dir:///jwt", FromConfig},
		{"", "", "sqlite:///h/accounts.db", FromDefault},
	} {
		got, from := PickStore(tc.explicit, tc.conf, "/h")
		if got != tc.want || from != tc.from {
			t.Errorf("PickStore(%q, %q) = %q, %s; want %q, %s", tc.explicit, tc.conf, got, from, tc.want, tc.from)
		}
	}
}

func TestHomeRule(t *testing.T) {
	t.Setenv("NATSAUTH_HOME", "/from/env")
	t.Setenv("XDG_DATA_HOME", "/xdg")
	if got, _ := Home("/from/flag"); got != "/from/flag" {
		t.Errorf("flag: %q", got)
	}
	if got, _ := Home(""); got != "/from/env" {
		t.Errorf("env: %q", got)
	}
	t.Setenv("NATSAUTH_HOME", "")
	if got, _ := Home(""); got != "/xdg/natsauth" {
		t.Errorf("xdg: %q", got)
	}
}

func TestFingerprintNamesOneExactJWT(t *testing.T) {
	if Fingerprint("a.b.c") != Fingerprint(" a.b.c\n") {
		t.Error("surrounding space changes the fingerprint")
	}
	if Fingerprint("a.b.c") == Fingerprint("a.b.d") {
		t.Error("two JWTs share a fingerprint")
	}
}

var acct = func() string {
	kp, err := nkeys.CreateAccount()
	if err != nil {
		panic(err)
	}
	pub, _ := kp.PublicKey()
	return pub
}()

func TestRegistryListsLiveServersOnly(t *testing.T) {
	home := t.TempDir()
	r, err := Register(home, Server{Store: "sqlite:///x.db", ClientURL: "nats://127.0.0.1:4222", WatchesHome: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := List(home)
	if err != nil || len(got) != 1 || got[0].Store != "sqlite:///x.db" || got[0].Home != home {
		t.Fatalf("List = %+v, %v", got, err)
	}

	// A process that has ended.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if _, err := Register(home, Server{ID: "gone", PID: dead.Process.Pid, Store: "mem://"}); err != nil {
		t.Fatal(err)
	}
	// A server on another host that stopped touching its entry.
	if _, err := Register(home, Server{ID: "silent", Host: "elsewhere", Store: "mem://"}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * StaleAfter)
	if err := os.Chtimes(filepath.Join(home, RunDir, "silent.json"), old, old); err != nil {
		t.Fatal(err)
	}
	// A registry copied with the home (cp -a HOME HOME2) names the other home.
	copied := t.TempDir()
	if out, err := exec.Command("cp", "-a", filepath.Join(home, RunDir), copied).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
	if got, _ := List(copied); len(got) != 0 {
		t.Errorf("a copied registry lists %+v", got)
	}

	got, _ = List(home)
	if len(got) != 1 || got[0].ID != r.ID() {
		t.Fatalf("List after stale entries = %+v", got)
	}
	for _, gone := range []string{"gone.json", "silent.json"} {
		if _, err := os.Stat(filepath.Join(home, RunDir, gone)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale entry %s was not removed", gone)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := List(home); len(got) != 0 {
		t.Fatalf("List after Close = %+v", got)
	}
}

func TestWaitAck(t *testing.T) {
	home := t.TempDir()
	r, err := Register(home, Server{Store: "mem://", WatchesHome: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, _ := List(home)
	go func() {
		time.Sleep(20 * time.Millisecond)
		_ = r.Ack(acct, Ack{JWT: "old"})
		_ = r.Ack(acct, Ack{JWT: "new", Err: "refused"})
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	a, err := WaitAck(ctx, home, s[0], acct, "new")
	if err != nil || a.Err != "refused" {
		t.Fatalf("WaitAck = %+v, %v", a, err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if _, err := WaitAck(short, home, s[0], acct, "never"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitAck for an unacknowledged JWT = %v", err)
	}
	if err := r.Ack("not-a-key", Ack{JWT: "x"}); err == nil {
		t.Fatal("ack for a bad account key accepted")
	}
	r.Close()
	if _, err := WaitAck(context.Background(), home, s[0], acct, "never"); !errors.Is(err, ErrGone) {
		t.Fatalf("WaitAck on a stopped server = %v, want ErrGone", err)
	}
}
