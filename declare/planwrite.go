package declare

import (
	"encoding/json"
	"fmt"
	"io"
)

// Write writes the plan for people (WriteText) or, with asJSON, as one
// indented JSON document for scripts.
func (p *Plan) Write(w io.Writer, asJSON bool) error {
	if !asJSON {
		p.WriteText(w)
		return nil
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// Mismatch says, in one line, how far the home is from the plan's file:
// "" when it matches and nothing drifted.
func (p *Plan) Mismatch() string {
	if p.Empty() {
		return ""
	}
	c, u, d := p.Counts()
	return fmt.Sprintf("the home does not match %s: %d to create, %d to update, %d to delete, %d drifted", p.File, c, u, d, len(p.Drift))
}
