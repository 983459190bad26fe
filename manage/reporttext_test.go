package manage

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestPrintReportAndFinish(t *testing.T) {
	var b bytes.Buffer
	r := PrintReport(&b, false)
	r.add(Answer{Op: "push", Target: "nats://a", OK: true})
	if err := r.Finish(&b, "push", false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || lines[1] != "push: 1 answers, all ok" {
		t.Errorf("text: got %q", lines)
	}

	b.Reset()
	r = PrintReport(&b, true)
	r.add(Answer{Op: "pull", Target: "nats://a", OK: true})
	r.add(Answer{Op: "pull", Target: "nats://b", Message: "refused"})
	if b.Len() != 0 {
		t.Errorf("JSON report wrote answers as they came: %q", b.String())
	}
	err := r.Finish(&b, "pull", true)
	if err == nil || err.Error() != "pull: 1 of 2 answers were refusals or failures (see above)" {
		t.Errorf("error: got %v", err)
	}
	var doc struct {
		OK      bool     `json:"ok"`
		Results []Answer `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil || doc.OK || len(doc.Results) != 2 {
		t.Errorf("JSON: got %+v, %v from %s", doc, err, b.String())
	}
}
