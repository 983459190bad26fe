package doctor

import (
	"fmt"
	"io"
	"strings"
)

// Report is one doctor run: the home and the servers checked, what was
// found, and what --fix-permissions fixed first.
type Report struct {
	Home     string         `json:"home"`
	Servers  []string       `json:"servers,omitempty"`
	Findings []Finding      `json:"findings"`
	Summary  map[string]int `json:"summary"`
	Fixed    []string       `json:"fixed_permissions,omitempty"`
}

// SourcedVarz is a server's varz and where it was read (a monitoring URL,
// or a server ID answering over NATS).
type SourcedVarz struct {
	Source string
	Varz   *Varz
}

// AddServers checks every server once — by server ID, whichever ways it
// was reached (over NATS and through its monitoring port) — and adds what
// it finds.
func (r *Report) AddServers(vs []SourcedVarz, command string) {
	seen := map[string]bool{}
	for _, v := range vs {
		id := v.Varz.ID
		if id == "" {
			id = v.Source
		}
		if seen[id] {
			continue
		}
		seen[id] = true
		r.Servers = append(r.Servers, v.Source)
		r.Findings = append(r.Findings, CheckServer(v.Source, v.Varz, command)...)
	}
}

// Finish sorts the findings and counts them by severity.
func (r *Report) Finish() {
	Sort(r.Findings)
	r.Summary = map[string]int{}
	for sev, n := range Count(r.Findings) {
		r.Summary[sev.String()] = n
	}
}

// WriteText renders the report for people.
func (r *Report) WriteText(w io.Writer) {
	for _, f := range r.Fixed {
		fmt.Fprintf(w, "fixed permissions: %s\n", f)
	}
	if len(r.Findings) == 0 {
		fmt.Fprintf(w, "no findings: %s", r.Home)
		if len(r.Servers) > 0 {
			fmt.Fprintf(w, " and %d servers", len(r.Servers))
		}
		fmt.Fprintln(w, " follow every practice natsauth checks")
		return
	}
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%-6s  %s  [%s]\n", strings.ToUpper(f.Severity.String()), f.Object, f.Check)
		fmt.Fprintf(w, "        why: %s\n", f.Why)
		fmt.Fprintf(w, "        fix: %s\n", f.Fix)
	}
	var parts []string
	for _, s := range []Severity{High, Medium, Low, Info} {
		if n := r.Summary[s.String()]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	checked := "the home"
	if len(r.Servers) > 0 {
		checked += fmt.Sprintf(" and %d servers", len(r.Servers))
	}
	fmt.Fprintf(w, "%d findings in %s: %s\n", len(r.Findings), checked, strings.Join(parts, ", "))
}
