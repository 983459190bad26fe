package doctor

import (
	"fmt"
	"strings"
	"time"

	"github.com/natsauth/natsauth/authority"
)

// Checks of imports between accounts.
const (
	// CheckImportBroken: servers refuse an import now (its export was
	// removed or made private, its token expired, was revoked, ...).
	CheckImportBroken = "import-broken"
	// CheckActivationExpiring: an import's activation token expires
	// within the expiry window.
	CheckActivationExpiring = "activation-expiring"
)

// CheckImports reports the imports of the home's accounts that broke after
// they were added — the export they use was removed, narrowed, changed
// kind or made private, their activation token expired or was revoked —
// and those whose activation token expires within o.ExpiryWindow.
// CheckHome includes these findings.
func CheckImports(h *authority.Home, o Options) ([]Finding, error) {
	o.defaults()
	c := &checker{o: o, h: h, now: o.Now()}
	if err := c.imports(); err != nil {
		return nil, err
	}
	Sort(c.out)
	return c.out, nil
}

func (c *checker) imports() error {
	imps, err := c.h.Imports(c.now)
	if err != nil {
		return fmt.Errorf("doctor: %w", err)
	}
	for _, im := range imps {
		kind := "stream"
		if im.Import.IsService() {
			kind = "service"
		}
		subj := string(im.Import.Subject)
		obj := fmt.Sprintf("import %s/%s from %s", im.Account, subj, im.Source)
		reissue := c.cmd("generate", "activation", "-a", im.Source, "-t", im.Account, "-s", subj, "--expiry", "90d", "-o", "token.jwt") +
			" && " + c.cmd("delete", "import", "-a", im.Account, "-s", subj, "--src-account", im.Source) +
			" && " + c.cmd("add", "import", "-a", im.Account, "-u", "token.jwt", "-s", localOrRemote(im))
		if len(im.Problems) > 0 {
			fix := c.cmd("delete", "import", "-a", im.Account, "-s", subj, "--src-account", im.Source) +
				"   # or restore what it needs"
			if im.Activation != nil && im.Export != nil && im.Export.TokenReq {
				fix = reissue
			} else if im.InHome && im.Export == nil {
				fix = c.cmd("add", "export", "-a", im.Source, "-s", subj) + serviceFlag(kind) +
					"   # or: " + c.cmd("delete", "import", "-a", im.Account, "-s", subj, "--src-account", im.Source)
			}
			c.add(High, CheckImportBroken, obj, fmt.Sprintf("servers refuse this %s import: %s", kind,
				strings.Join(im.Problems, "; ")), fix)
			continue
		}
		if im.Activation == nil || im.Activation.Expires == 0 {
			continue
		}
		at := time.Unix(im.Activation.Expires, 0).UTC()
		if left := at.Sub(c.now); left < c.o.ExpiryWindow {
			c.add(Medium, CheckActivationExpiring, obj, fmt.Sprintf(
				"its activation token expires %s, in %s: then servers drop the import", at.Format(time.RFC3339),
				left.Round(time.Minute)), reissue)
		}
	}
	return nil
}

func serviceFlag(kind string) string {
	if kind == "service" {
		return " --service"
	}
	return ""
}

func localOrRemote(im authority.ImportInfo) string {
	if im.Import.LocalSubject != "" {
		return string(im.Import.LocalSubject)
	}
	return string(im.Import.Subject)
}
