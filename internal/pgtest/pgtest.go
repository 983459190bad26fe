// Package pgtest runs a real PostgreSQL for tests: a private cluster made
// with the installed PostgreSQL binaries (Debian's /usr/lib/postgresql/*/bin)
// in a temporary directory, listening on a free loopback port and a unix
// socket directory of its own. Tests can stop and restart it to simulate an
// outage; clients reconnect to the same address and data.
//
// A test binary shares one server through Start, cleaned up by Main:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		url := pgtest.Start(t).NewDatabase(t) // a fresh database for this test
//		...
//	}
//
// Tests that stop the server use their own with StartPrivate, so they do not
// disturb others. If PostgreSQL is not installed the test fails — it never
// skips. NATSAUTH_TEST_POSTGRES_URL makes Start use an external server
// instead (which cannot be stopped or restarted); NATSAUTH_TEST_PG_BINDIR
// names the directory of initdb and postgres when they are elsewhere.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the environment variable that points Start at an external
// PostgreSQL server (a superuser URL, e.g. postgres://postgres@127.0.0.1:5432/postgres).
const EnvURL = "NATSAUTH_TEST_POSTGRES_URL"

// Server is a PostgreSQL server for tests.
type Server struct {
	adminURL string // superuser URL to the "postgres" database
	host     string
	port     int
	cluster  *cluster // nil for an external server
}

var (
	sharedOnce sync.Once
	shared     *Server
	sharedErr  error
	dbCounter  atomic.Int64
	runID      = randomHex(4)
)

// Start returns the server shared by every test of this test binary,
// starting it on first use. Call Main from TestMain so it is stopped when
// the tests end. If NATSAUTH_TEST_POSTGRES_URL is set, that server is used.
// A test calling Start fails if no server can be started.
func Start(t testing.TB) *Server {
	t.Helper()
	sharedOnce.Do(func() {
		if u := os.Getenv(EnvURL); u != "" {
			shared, sharedErr = external(u)
			return
		}
		shared, sharedErr = startCluster()
	})
	if sharedErr != nil {
		t.Fatalf("pgtest: %v", sharedErr)
	}
	return shared
}

// StartPrivate starts a server for this test alone (never the external
// one), stopped and removed when the test ends. Use it for tests that stop
// or restart PostgreSQL.
func StartPrivate(t testing.TB) *Server {
	t.Helper()
	s, err := startCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.cluster.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return s
}

// Main runs the tests and then stops the shared server, if one was started,
// and exits with the tests' exit code. Call it from TestMain.
func Main(m interface{ Run() int }) {
	code := m.Run()
	if shared != nil && shared.cluster != nil {
		if err := shared.cluster.destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	os.Exit(code)
}

func external(rawURL string) (*Server, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s is not a URL: %v", EnvURL, err)
	}
	s := &Server{adminURL: rawURL, host: u.Hostname(), port: 5432}
	if p := u.Port(); p != "" {
		if _, err := fmt.Sscan(p, &s.port); err != nil {
			return nil, fmt.Errorf("%s: bad port %q", EnvURL, p)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, rawURL)
	if err != nil {
		return nil, fmt.Errorf("external PostgreSQL from %s (%s) unreachable: %v", EnvURL, u.Redacted(), err)
	}
	conn.Close(ctx)
	return s, nil
}

// URL returns the superuser URL of the server's "postgres" database.
// Prefer NewDatabase, which isolates a test's data.
func (s *Server) URL() string { return s.adminURL }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return fmt.Sprintf("%s:%d", s.host, s.port) }

// External reports whether the server is an external one
// (NATSAUTH_TEST_POSTGRES_URL) that tests cannot stop.
func (s *Server) External() bool { return s.cluster == nil }

// NewDatabase creates an empty database for this test, dropped when the
// test ends, and returns its URL.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	name := dbName(t.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if s.cluster != nil && !s.cluster.running() {
			return // stopped for good by the test; the data dir goes with it
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		err := s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
		if err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(s.adminURL)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func (s *Server) admin(ctx context.Context, sql string) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// Stop shuts the server down (fast shutdown: open connections are
// terminated) and waits until it has exited. The port stays reserved for
// Restart. It fails the test for an external server.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cluster == nil {
		t.Fatalf("pgtest: cannot stop the external PostgreSQL at %s (%s is set); use StartPrivate", s.Addr(), EnvURL)
	}
	if err := s.cluster.stop(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

// Restart starts the server again on the same port with the same data,
// stopping it first if it is running, and waits until it accepts
// connections. It fails the test for an external server.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.cluster == nil {
		t.Fatalf("pgtest: cannot restart the external PostgreSQL at %s (%s is set); use StartPrivate", s.Addr(), EnvURL)
	}
	if err := s.cluster.stop(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	if err := s.cluster.start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_]+`)

// dbName makes a database name unique across tests, test binaries and runs.
func dbName(testName string) string {
	n := unsafeName.ReplaceAllString(strings.ToLower(testName), "_")
	if len(n) > 32 {
		n = n[:32]
	}
	return fmt.Sprintf("t_%s_%s_%d", n, runID, dbCounter.Add(1))
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// errNotInstalled is returned when no PostgreSQL binaries are found.
var errNotInstalled = errors.New("PostgreSQL not installed (no initdb in /usr/lib/postgresql/*/bin or PATH): " +
	"run ./scripts/test, which installs Debian's postgresql, or set " + EnvURL)
