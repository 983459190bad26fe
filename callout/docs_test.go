package callout_test

import (
	"os"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/callout"
)

// TestDocumentedRulesParse keeps the guide's and the Compose file's rules
// valid: every ```yaml block of docs/identity-gateway.md that has rules,
// and deploy/callout-rules.yaml.
func TestDocumentedRulesParse(t *testing.T) {
	if _, err := callout.LoadRules("../deploy/callout-rules.yaml"); err != nil {
		t.Error(err)
	}
	raw, err := os.ReadFile("../docs/identity-gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for i, block := range strings.Split(string(raw), "```yaml\n")[1:] {
		body, _, _ := strings.Cut(block, "```")
		if !strings.Contains(body, "rules:") {
			continue
		}
		found++
		if _, err := callout.ParseRules("identity-gateway.md yaml block "+string(rune('1'+i)), []byte(body)); err != nil {
			t.Error(err)
		}
	}
	if found == 0 {
		t.Fatal("no rules block found in docs/identity-gateway.md")
	}
}
