package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	superuser    = "postgres"
	readyTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// cluster is a PostgreSQL data directory and the postmaster serving it.
type cluster struct {
	bin    string // directory holding initdb and postgres
	base   string // temp dir: data/, sock/, postgres.log
	port   int
	cred   *syscall.Credential // run as this user (nil: as ourselves)
	admin  string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd has exited
}

func (c *cluster) dataDir() string { return filepath.Join(c.base, "data") }
func (c *cluster) sockDir() string { return filepath.Join(c.base, "sock") }
func (c *cluster) logFile() string { return filepath.Join(c.base, "postgres.log") }

// startCluster makes a new cluster in a temp dir and starts it.
func startCluster() (*Server, error) {
	bin, err := findBinDir()
	if err != nil {
		return nil, err
	}
	c := &cluster{bin: bin}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as the postgres user.
		cred, err := credentialOf(superuser)
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}
	c.base, err = os.MkdirTemp(tempParent(c.cred != nil), "natsauth-pgtest-")
	if err != nil {
		return nil, fmt.Errorf("make cluster dir: %w", err)
	}
	if err := c.setup(); err != nil {
		os.RemoveAll(c.base)
		return nil, err
	}
	// A port may be taken between picking it and the postmaster binding it:
	// try a few.
	for attempt := 0; ; attempt++ {
		c.port, err = freePort()
		if err == nil {
			err = c.start()
		}
		if err == nil {
			break
		}
		if attempt == 4 {
			os.RemoveAll(c.base)
			return nil, err
		}
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(superuser),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	c.admin = u.String()
	return &Server{adminURL: c.admin, host: "127.0.0.1", port: c.port, cluster: c}, nil
}

// setup creates the directories and runs initdb.
func (c *cluster) setup() error {
	if err := os.Mkdir(c.sockDir(), 0o700); err != nil {
		return fmt.Errorf("make socket dir: %w", err)
	}
	if c.cred != nil {
		for _, d := range []string{c.base, c.sockDir()} {
			if err := os.Chown(d, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
				return fmt.Errorf("chown %s to %s: %w", d, superuser, err)
			}
		}
	}
	cmd := exec.Command(filepath.Join(c.bin, "initdb"),
		"-D", c.dataDir(), "-U", superuser, "--auth=trust", "--no-sync",
		"-E", "UTF8", "--locale=C")
	cmd.Dir = c.base
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb %s: %v\n%s", c.dataDir(), err, lastLines(out, 20))
	}
	return nil
}

// start launches the postmaster and waits until it accepts connections.
func (c *cluster) start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return nil
	}
	logf, err := os.OpenFile(c.logFile(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	defer logf.Close()
	fmt.Fprintf(logf, "---- pgtest: starting on port %d\n", c.port)
	cmd := exec.Command(filepath.Join(c.bin, "postgres"),
		"-D", c.dataDir(),
		"-p", strconv.Itoa(c.port),
		"-k", c.sockDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off",
		"-c", "synchronous_commit=off",
		"-c", "full_page_writes=off",
		"-c", "shared_buffers=16MB",
		"-c", "max_connections=300",
		"-c", "autovacuum=off",
		"-c", "logging_collector=off",
		"-c", "log_min_messages=warning",
	)
	cmd.Dir = c.base
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: c.cred,
		// If the test binary dies without cleaning up, so does PostgreSQL.
		Pdeathsig: syscall.SIGQUIT,
		Setpgid:   true,
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	exited := make(chan struct{})
	c.cmd, c.exited = cmd, exited
	go func() {
		_ = cmd.Wait() // how it exited shows in the log
		close(exited)
	}()
	if err := c.waitReady(exited); err != nil {
		c.kill(cmd, exited)
		c.cmd = nil
		return err
	}
	return nil
}

// waitReady polls until the server answers a query, it exits, or time is up.
func (c *cluster) waitReady(exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	connURL := fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", superuser, c.port)
	for {
		select {
		case <-exited:
			return fmt.Errorf("postgres on port %d exited during startup; log %s:\n%s",
				c.port, c.logFile(), c.logTail())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		conn, err := pgx.Connect(ctx, connURL)
		if err == nil {
			err = conn.Ping(ctx)
			conn.Close(ctx)
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres on port %d not ready after %s: %v; log %s:\n%s",
				c.port, readyTimeout, err, c.logFile(), c.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *cluster) running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cmd != nil
}

// stop shuts the postmaster down (fast mode) and waits for it to exit.
func (c *cluster) stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd == nil {
		return nil
	}
	cmd, exited := c.cmd, c.exited
	c.cmd = nil
	// SIGINT is PostgreSQL's fast shutdown: abort transactions, close
	// connections, checkpoint, exit.
	_ = cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-exited:
		return nil
	case <-time.After(stopTimeout):
	}
	c.kill(cmd, exited)
	return fmt.Errorf("postgres on port %d did not stop within %s; killed it", c.port, stopTimeout)
}

// kill ends the postmaster and its children at once.
func (c *cluster) kill(cmd *exec.Cmd, exited <-chan struct{}) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
	}
}

// destroy stops the server and removes its files.
func (c *cluster) destroy() error {
	err := c.stop()
	if rmErr := os.RemoveAll(c.base); rmErr != nil && err == nil {
		err = fmt.Errorf("remove %s: %w", c.base, rmErr)
	}
	return err
}

func (c *cluster) logTail() string {
	b, err := os.ReadFile(c.logFile())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	return lastLines(b, 30)
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// EnvBinDir names the environment variable that points at the directory
// holding initdb and postgres, overriding the search.
const EnvBinDir = "NATSAUTH_TEST_PG_BINDIR"

// findBinDir finds the directory with initdb and postgres: $NATSAUTH_TEST_PG_BINDIR,
// or the newest /usr/lib/postgresql/<version>/bin, or else the one on PATH.
func findBinDir() (string, error) {
	if d := os.Getenv(EnvBinDir); d != "" {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
		return "", fmt.Errorf("%s=%s holds no initdb and postgres: %w", EnvBinDir, d, errNotInstalled)
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return versionOf(dirs[i]) > versionOf(dirs[j]) })
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", errNotInstalled
}

func versionOf(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

func credentialOf(name string) (*syscall.Credential, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL must run as the %q user, which is missing (%v): "+
			"install Debian's postgresql package (./scripts/test does)", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("user %s: %w", name, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// tempParent is where cluster dirs go: the temp dir, unless another user
// must reach into it and cannot (e.g. TMPDIR under /root), then /tmp.
func tempParent(otherUser bool) string {
	dir := os.TempDir()
	if !otherUser {
		return dir
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return "/tmp"
		}
		if d == "/" {
			return dir
		}
	}
}

// freePort picks a loopback port outside the kernel's ephemeral range, so
// that outgoing connections made while the server is stopped cannot take
// it before Restart.
func freePort() (int, error) {
	lo, hi := 20000, 32000
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var elo, ehi int
		if _, err := fmt.Sscan(string(bytes.TrimSpace(b)), &elo, &ehi); err == nil && elo <= hi && ehi >= lo {
			if elo-1 > 15000 {
				lo, hi = 10000, elo-1
			} else {
				lo, hi = ehi+1, 65000
			}
		}
	}
	if hi <= lo {
		lo, hi = 20000, 32000
	}
	for range 100 {
		p := lo + rand.IntN(hi-lo)
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	return 0, errors.New("no free loopback port found")
}
