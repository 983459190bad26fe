package doctor

import (
	"errors"
	"strings"
	"testing"
)

func TestReportErr(t *testing.T) {
	r := &Report{Home: "/h", Findings: []Finding{{Severity: High, Check: "bearer-user", Object: "user a", Why: "w", Fix: "f"}}}
	r.Finish()
	if err := r.Err(nil); err == nil || err.Error() != "doctor: 1 high-severity findings" {
		t.Errorf("high finding: got %v", err)
	}
	err := r.Err([]error{errors.New("store x: down"), errors.New("server y: no answer")})
	if err == nil || !strings.HasPrefix(err.Error(), "doctor: could not check everything") ||
		!strings.Contains(err.Error(), "store x: down") || !strings.Contains(err.Error(), "server y: no answer") {
		t.Errorf("incomplete: got %v", err)
	}
	if err := (&Report{}).Err(nil); err != nil {
		t.Errorf("clean report: got %v", err)
	}
}
