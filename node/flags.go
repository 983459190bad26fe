package node

import (
	"flag"
	"fmt"
	"io"
	"strconv"
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
	return opts, nil
}
