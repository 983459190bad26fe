package manage

import (
	"encoding/json"
	"fmt"
	"io"
)

// PrintReport returns a Report that writes each answer to w as it comes,
// one line each; with asJSON it writes nothing and Finish writes the
// whole report as one JSON document.
func PrintReport(w io.Writer, asJSON bool) *Report {
	r := &Report{}
	if !asJSON {
		r.OnAnswer = func(a Answer) { fmt.Fprintln(w, a) }
	}
	return r
}

// Finish ends a push or pull (verb) report: it writes the JSON report
// (asJSON) or a line saying every answer was ok, and returns an error
// counting the refusals and failures, so the front door can fail.
func (r *Report) Finish(w io.Writer, verb string, asJSON bool) error {
	failed := r.Failures()
	if asJSON {
		b, err := json.MarshalIndent(r, "", "  ")
		if err != nil {
			return fmt.Errorf("%s: encode report: %w", verb, err)
		}
		fmt.Fprintln(w, string(b))
	}
	if failed > 0 {
		return fmt.Errorf("%s: %d of %d answers were refusals or failures (see above)", verb, failed, len(r.Answers))
	}
	if !asJSON {
		fmt.Fprintf(w, "%s: %d answers, all ok\n", verb, len(r.Answers))
	}
	return nil
}
