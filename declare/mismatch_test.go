package declare

import (
	"testing"

	"github.com/natsauth/natsauth/authority"
)

func TestPlanMismatch(t *testing.T) {
	empty := &Plan{File: "a.yaml"}
	if got := empty.Mismatch(); got != "" {
		t.Errorf("empty plan: got %q", got)
	}
	p := &Plan{File: "a.yaml", Changes: []Change{{Action: authority.Create}, {Action: authority.Update}, {Action: authority.Create}},
		Drift: []Drift{{Account: "A", Target: "sqlite://x", Problem: "older"}}}
	if got, want := p.Mismatch(), "the home does not match a.yaml: 2 to create, 1 to update, 0 to delete, 1 drifted"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
