package manage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/store"
)

// WalkthroughGuide is what `natsauth demo` tells people once the
// walkthrough's server runs: what was made, where it runs and commands to
// try.
type WalkthroughGuide struct {
	Home          *authority.Home
	Made          []string // what EnsureWalkthrough made; none: the setup existed
	ServerVersion string   // nats-server's version
	ClientURL     string
	MonitorAddr   string // host:port of the monitoring port; "" without one
	StoreURL      string // redacted when written
	// Self is how to run natsauth from a shell; "" is this executable (or
	// `go run ./cmd/natsauth` when it was built by go run).
	Self string
}

// WriteText writes the guide.
func (g WalkthroughGuide) WriteText(w io.Writer) {
	h := g.Home
	if len(g.Made) == 0 {
		fmt.Fprintf(w, "Using the existing walkthrough setup in %s\n", h.Dir())
	} else {
		fmt.Fprintf(w, "Created in %s:\n", h.Dir())
		for _, m := range g.Made {
			fmt.Fprintf(w, "  - %s\n", m)
		}
	}
	url := g.ClientURL
	fmt.Fprintf(w, "\nnats-server %s is running on %s", g.ServerVersion, url)
	if g.MonitorAddr != "" {
		fmt.Fprintf(w, ", monitoring on http://%s", g.MonitorAddr)
	}
	fmt.Fprintf(w, ", JetStream on, store %s\n\nUsers of %s (creds files, 0600):\n", store.Redact(g.StoreURL), WalkthroughAccount)
	for _, u := range WalkthroughUsers() {
		fmt.Fprintf(w, "  %-10s %s\n             %s\n", u.Name, u.About, h.CredsPath(WalkthroughAccount, u.Name))
	}
	creds := func(u string) string { return shellQuote(h.CredsPath(WalkthroughAccount, u)) }
	fmt.Fprintf(w, "\nTry it with the nats CLI:\n")
	fmt.Fprintf(w, "  nats -s %s sub --creds=%s 'orders.alice.>'\n", url, creds("alice"))
	fmt.Fprintf(w, "  nats -s %s pub --creds=%s orders.alice.1 'Order #123'\n", url, creds("admin"))
	fmt.Fprintf(w, "  nats -s %s req --creds=%s orders.status 123\n", url, creds("alice"))
	fmt.Fprintf(w, "  nats -s %s pub --creds=%s inventory.delete x    # denied\n", url, creds("bob"))
	if g.MonitorAddr != "" {
		fmt.Fprintf(w, "  curl http://%s/connz\n", g.MonitorAddr)
	}
	fmt.Fprintf(w, "\nChange something while it runs (applied live):\n")
	self := g.Self
	if self == "" {
		self = selfCommand()
	}
	fmt.Fprintf(w, "  %s --home %s edit account %s --max-payload 512K\n", self, shellQuote(h.Dir()), WalkthroughAccount)
	fmt.Fprintf(w, "  %s --home %s revocations add-user -a %s -n bob\n", self, shellQuote(h.Dir()), WalkthroughAccount)
	fmt.Fprintf(w, "\nPress Ctrl-C to stop.\n")
}

// selfCommand is how to run this natsauth from a shell: the binary's own
// path, or `go run ./cmd/natsauth` when it was built by go run (a
// temporary binary that is gone when the demo stops).
func selfCommand() string {
	exe, err := os.Executable()
	if err != nil || strings.Contains(exe, string(filepath.Separator)+"go-build") {
		return "go run ./cmd/natsauth"
	}
	return shellQuote(exe)
}

// shellQuote single-quotes s for a shell unless it is only letters,
// digits and / . - _.
func shellQuote(s string) string {
	for _, r := range s {
		if !(r == '/' || r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return "'" + filepath.ToSlash(s) + "'"
		}
	}
	return s
}
