package dir_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/store"
	_ "github.com/natsauth/natsauth/store/backends"
	"github.com/natsauth/natsauth/store/dir"
	"github.com/natsauth/natsauth/store/storetest"
)

func backend(name, query string) storetest.Backend {
	return storetest.Backend{
		Name: name,
		New: func(t testing.TB) func(testing.TB, store.Options) store.Store {
			return storetest.Opener("dir://" + filepath.Join(t.TempDir(), "jwts") + query)
		},
		Persistent: true,
		Shared:     true,
	}
}

func TestConformanceInotify(t *testing.T) {
	storetest.Run(t, backend("dir-inotify", "?watch=inotify"))
}

func TestConformancePoll(t *testing.T) {
	storetest.Run(t, backend("dir-poll", "?watch=poll&poll=20ms"))
}

func BenchmarkGet(b *testing.B) { storetest.BenchGet(b, backend("dir", ""), 1000) }

func TestFilesInNatsServerFormat(t *testing.T) {
	op := testkit.NewOperator(t)
	d := filepath.Join(t.TempDir(), "new", "jwts")
	s, err := store.Open(t.Context(), "dir://"+d, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	acc := op.NewAccount(t, "A", nil)
	if _, err := s.Put(t.Context(), acc.Pub, acc.JWT+"\n"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(d)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("dir mode = %o, want 700", got)
	}
	p := filepath.Join(d, acc.Pub+".jwt")
	fi, err = os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("file mode = %o, want 600", got)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(data) != acc.JWT {
		t.Errorf("file holds %q, want the raw jwt", data)
	}
	// Nothing but the account file, the lock file and the audit log: no
	// temporary left over.
	entries, _ := os.ReadDir(d)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 || names[0] != ".natsauth.lock" || names[1] != acc.Pub+".jwt" || names[2] != "audit.log" {
		t.Errorf("dir holds %v", names)
	}
}

func TestBackendRefusesBadKeysBeforeBuildingPaths(t *testing.T) {
	root := t.TempDir()
	d := filepath.Join(root, "jwts")
	b, err := dir.New(t.Context(), dir.Config{Dir: d})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	// Called on the backend directly: the validated wrapper is bypassed.
	for _, key := range []string{"../x", "../" + acc.Pub, "", "x/../" + acc.Pub, acc.Pub + "/x"} {
		rec := store.Record{Account: key, JWT: acc.JWT, IssuedAt: 1}
		if _, err := b.PutIfNewer(t.Context(), rec); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("PutIfNewer(%q) err = %v, want ErrInvalid", key, err)
		}
		if _, err := b.Get(t.Context(), key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Get(%q) err = %v, want ErrInvalid", key, err)
		}
		if err := b.Delete(t.Context(), key); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Delete(%q) err = %v, want ErrInvalid", key, err)
		}
	}
	var files []string
	_ = filepath.WalkDir(root, func(p string, e fs.DirEntry, _ error) error {
		if !e.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Fatalf("refused keys left files: %v", files)
	}
}

func TestIgnoresForeignFiles(t *testing.T) {
	op := testkit.NewOperator(t)
	d := t.TempDir()
	acc := op.NewAccount(t, "A", nil)
	// What else a nats-server directory may hold: a deleted account, the
	// operator JWT, junk.
	for name, content := range map[string]string{
		acc.Pub + ".jwt.deleted": acc.JWT,
		op.Pub + ".jwt":          op.JWT,
		"notes.txt":              "x",
		"bad.jwt":                "x",
	} {
		if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := store.Open(t.Context(), "dir://"+d, store.Options{Policy: op.Policy()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys, err := s.List(t.Context())
	if err != nil || len(keys) != 0 {
		t.Fatalf("List = %v, %v; want none", keys, err)
	}
	if _, err := s.Get(t.Context(), acc.Pub); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get of a .deleted account: %v", err)
	}
}

func TestCorruptFileIsAnErrorAndIsReplaced(t *testing.T) {
	op := testkit.NewOperator(t)
	d := t.TempDir()
	acc := op.NewAccount(t, "A", nil)
	other := op.NewAccount(t, "B", nil)
	p := filepath.Join(d, acc.Pub+".jwt")
	// Half a JWT, and a JWT of another account under this name.
	for _, content := range []string{acc.JWT[:40], other.JWT} {
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		s, err := store.Open(t.Context(), "dir://"+d, store.Options{Policy: op.Policy()})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Get(t.Context(), acc.Pub)
		if err == nil || errors.Is(err, store.ErrNotFound) || !strings.Contains(err.Error(), acc.Pub) {
			t.Fatalf("Get of a corrupt file: err = %v, want an error naming the account", err)
		}
		if c, err := s.Put(t.Context(), acc.Pub, acc.JWT); err != nil || c != store.Updated {
			t.Fatalf("Put over a corrupt file = %v, %v", c, err)
		}
		if rec, err := s.Get(t.Context(), acc.Pub); err != nil || rec.JWT != acc.JWT {
			t.Fatalf("Get after repair: %v", err)
		}
		s.Close()
	}
}

func TestURL(t *testing.T) {
	for _, bad := range []string{"dir://relative/path", "dir:relative", "dir:///x?poll=1ns", "dir:///x?watch=magic", "dir:///x?pol=1s"} {
		_, err := store.Open(context.Background(), bad, store.Options{})
		if err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestNewerOnlyAcrossProcesses(t *testing.T) {
	d := t.TempDir() // unused in the child processes
	storetest.CrossProcess(t, "TestNewerOnlyAcrossProcesses", "dir://"+d, 3, 80)
}
