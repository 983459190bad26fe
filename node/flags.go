package node

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/nats-io/nats-server/v2/server"
)

// ServerFlags are the nats-server command-line options that `natsauth
// serve` accepts. Zero values mean "not given": the config file (or
// nats-server's default) applies. They are merged over the config file
// exactly as nats-server merges its own flags, so a reload keeps them.
type ServerFlags struct {
	Host        string // -a
	Port        int    // -p
	HTTPPort    int    // -m
	JetStream   bool   // --js
	StoreDir    string // --sd
	Name        string // --name
	Cluster     string // --cluster nats://host:port
	ClusterName string // --cluster_name
	Routes      string // --routes nats://a:6222,nats://b:6222
	TLSCert     string // --tlscert
	TLSKey      string // --tlskey
	TLSCA       string // --tlscacert
	TLSVerify   bool   // --tlsverify
	Debug       bool   // -D
	Trace       bool   // -V
	LogFile     string // -l

	// Set records which fields were given explicitly (by flag name as
	// listed above, e.g. "p", "js"). Fields not in Set are ignored unless
	// they are non-zero.
	Set map[string]bool
}

// MarkGiven records in Set which boolean flags natsauth serve was given —
// changed reports one by its natsauth name: js, tls-verify, debug, trace —
// so that an explicit false overrides the config file.
func (f *ServerFlags) MarkGiven(changed func(name string) bool) {
	f.Set = map[string]bool{}
	for name, key := range map[string]string{"js": "js", "tls-verify": "tlsverify", "debug": "D", "trace": "V"} {
		if changed(name) {
			f.Set[key] = true
		}
	}
}

// args renders the flags as nats-server command-line arguments.
func (f ServerFlags) args(configFile string) []string {
	var a []string
	add := func(name, val string, given bool) {
		if given || f.Set[name] {
			a = append(a, "-"+name+"="+val)
		}
	}
	add("c", configFile, configFile != "")
	add("a", f.Host, f.Host != "")
	add("p", strconv.Itoa(f.Port), f.Port != 0)
	add("m", strconv.Itoa(f.HTTPPort), f.HTTPPort != 0)
	add("js", strconv.FormatBool(f.JetStream), f.JetStream)
	add("sd", f.StoreDir, f.StoreDir != "")
	add("name", f.Name, f.Name != "")
	add("cluster", f.Cluster, f.Cluster != "")
	add("cluster_name", f.ClusterName, f.ClusterName != "")
	add("routes", f.Routes, f.Routes != "")
	add("tlscert", f.TLSCert, f.TLSCert != "")
	add("tlskey", f.TLSKey, f.TLSKey != "")
	add("tlscacert", f.TLSCA, f.TLSCA != "")
	add("tlsverify", strconv.FormatBool(f.TLSVerify), f.TLSVerify)
	add("D", strconv.FormatBool(f.Debug), f.Debug)
	add("V", strconv.FormatBool(f.Trace), f.Trace)
	add("l", f.LogFile, f.LogFile != "")
	return a
}

// optsMu serialises use of nats-server's process-wide FlagSnapshot, which
// ConfigureOptions writes and ReloadOptions reads (several nodes may run in
// one process, as in tests).
var optsMu sync.Mutex

// configureOptions runs nats-server's own flag+config merge.
func configureOptions(f ServerFlags, configFile string) (*server.Options, error) {
	if err := f.Check(); err != nil {
		return nil, err
	}
	optsMu.Lock()
	defer optsMu.Unlock()
	fs := flag.NewFlagSet("nats-server", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	noop := func() {}
	opts, err := server.ConfigureOptions(fs, f.args(configFile), noop, noop, noop)
	if err != nil {
		if configFile != "" {
			return nil, fmt.Errorf("load %s: %w", configFile, err)
		}
		return nil, err
	}
	if opts == nil {
		return nil, fmt.Errorf("nats-server options: nothing configured")
	}
	if err := checkRoutes(opts.Routes); err != nil {
		return nil, err
	}
	if err := checkPort(opts.Port); err != nil {
		return nil, fmt.Errorf("node: port: %w", err)
	}
	return opts, nil
}

// Check reports every malformed port, cluster URL and route URL at once,
// naming the flag. It opens nothing. nats-server itself panics on some
// route URLs ("::::") and waits for a listener that cannot exist on a port
// out of range, so New calls Check before handing the flags over.
func (f ServerFlags) Check() error {
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if err := checkPort(f.Port); err != nil {
		add("-p: %v", err)
	}
	if err := checkPort(f.HTTPPort); err != nil {
		add("-m: %v", err)
	}
	if f.Cluster != "" {
		if err := checkServerURL(f.Cluster, true); err != nil {
			add("--cluster %q: %v", f.Cluster, err)
		}
	}
	if strings.TrimSpace(f.Routes) != "" {
		for _, r := range strings.Split(f.Routes, ",") {
			if err := checkServerURL(strings.TrimSpace(r), false); err != nil {
				add("--routes: route %q: %v", strings.TrimSpace(r), err)
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("node: bad server flags: %s", strings.Join(problems, "; "))
	}
	return nil
}

// checkPort accepts 0 (not given), -1 (a random port) and 1–65535.
func checkPort(p int) error {
	if p < -1 || p > 65535 {
		return fmt.Errorf("invalid port %d: want 1-65535, or -1 for a random port", p)
	}
	return nil
}

// routeSchemes are the URL schemes nats-server dials routes with.
var routeSchemes = map[string]bool{"nats": true, "nats-route": true, "tls": true}

// checkServerURL checks a cluster listen URL (listen: port -1 allowed) or
// a route URL: scheme://host:port.
func checkServerURL(raw string, listen bool) error {
	if raw == "" {
		return errors.New("empty URL")
	}
	if base, ok := strings.CutSuffix(raw, ":-1"); ok && listen {
		raw = base + ":0" // a random port, as nats-server reads it
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not a URL such as nats://127.0.0.1:6222")
	}
	if !routeSchemes[strings.ToLower(u.Scheme)] {
		return fmt.Errorf("scheme %q: want nats://host:port", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("no host: want nats://host:port")
	}
	ps := u.Port()
	if ps == "" {
		return errors.New("no port: want nats://host:port")
	}
	p, err := strconv.Atoi(ps)
	switch {
	case err != nil:
		return fmt.Errorf("invalid port %q", ps)
	case p == 0 && listen && strings.HasSuffix(raw, ":0"):
		return nil // -1 above, or 0: a random port
	case p < 1 || p > 65535:
		return fmt.Errorf("invalid port %d: want 1-65535", p)
	}
	return nil
}

// checkRoutes refuses route URLs nats-server could not dial (a config
// file's routes reach here already parsed; a nil or host-less one makes
// nats-server panic).
func checkRoutes(routes []*url.URL) error {
	for _, u := range routes {
		if u == nil || u.Host == "" {
			return errors.New("node: a route URL does not parse as scheme://host:port")
		}
	}
	return nil
}
