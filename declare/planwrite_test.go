package declare

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/natsauth/natsauth/authority"
)

func TestPlanWriteAndMismatch(t *testing.T) {
	empty := &Plan{File: "a.yaml"}
	if got := empty.Mismatch(); got != "" {
		t.Errorf("empty plan: got %q", got)
	}
	p := &Plan{File: "a.yaml", Changes: []Change{{Action: authority.Create}, {Action: authority.Update}, {Action: authority.Create}},
		Drift: []Drift{{Account: "A", Target: "sqlite://x", Problem: "older"}}}
	if got, want := p.Mismatch(), "the home does not match a.yaml: 2 to create, 1 to update, 0 to delete, 1 drifted"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	var text, want bytes.Buffer
	if err := p.Write(&text, false); err != nil {
		t.Fatal(err)
	}
	p.WriteText(&want)
	if text.String() != want.String() {
		t.Errorf("text: got %q, want %q", text.String(), want.String())
	}
	var js bytes.Buffer
	if err := p.Write(&js, true); err != nil {
		t.Fatal(err)
	}
	var got Plan
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || len(got.Changes) != 3 || got.Drift[0].Problem != "older" {
		t.Errorf("JSON: got %+v, %v", got, err)
	}
	if !bytes.Contains(js.Bytes(), []byte("\n  \"file\": \"a.yaml\"")) {
		t.Errorf("JSON is not indented:\n%s", js.String())
	}
}
