package node

import (
	"os/exec"
	"strings"
	"testing"
)

// The node and resolver packages link no store backend: a program picks
// its backends (store/backends registers them all), so one that does not
// use PostgreSQL does not link its driver.
func TestNodeAndResolverLinkNoBackend(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps",
		"github.com/natsauth/natsauth/node", "github.com/natsauth/natsauth/resolver").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/jackc/pgx") || strings.HasPrefix(pkg, "github.com/natsauth/natsauth/store/") ||
			strings.HasPrefix(pkg, "modernc.org/sqlite") {
			t.Errorf("node or resolver links %s", pkg)
		}
	}
}
