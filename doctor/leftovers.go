package doctor

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/natsauth/natsauth/internal/fsx"
)

// CheckLeftover identifies temporary files left by a writer that was
// killed mid-write.
const CheckLeftover = "leftover-temporary-file"

// CheckLeftovers reports every temporary file under each root that a
// writer killed between writing and renaming it left behind (the home,
// a dir store's directory). Such a file holds a JWT or, under the
// keystore, a seed; nothing reads it, and the next change in its directory
// removes it. CheckHome runs it on the home.
func CheckLeftovers(o Options, roots ...string) ([]Finding, error) {
	o.defaults()
	var out []Finding
	for _, root := range roots {
		found, err := fsx.FindStale(root)
		if err != nil {
			return nil, fmt.Errorf("doctor: %w", err)
		}
		for _, p := range found {
			sev, holds := Low, "a JWT or other file being replaced"
			if t := fsx.Target(filepath.Base(p)); strings.HasSuffix(t, ".nk") || strings.HasSuffix(t, ".creds") {
				sev, holds = Medium, "a seed"
			}
			out = append(out, Finding{
				Severity: sev, Check: CheckLeftover, Object: "file " + p,
				Why: fmt.Sprintf("a writer was killed before it renamed this temporary file into place; it holds %s "+
					"that nothing reads, and the next change in its directory removes it", holds),
				Fix: "rm " + shellQuote(p),
			})
		}
	}
	Sort(out)
	return out, nil
}
