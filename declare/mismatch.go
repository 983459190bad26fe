package declare

import "fmt"

// Mismatch says, in one line, how far the home is from the plan's file:
// "" when it matches and nothing drifted.
func (p *Plan) Mismatch() string {
	if p.Empty() {
		return ""
	}
	c, u, d := p.Counts()
	return fmt.Sprintf("the home does not match %s: %d to create, %d to update, %d to delete, %d drifted", p.File, c, u, d, len(p.Drift))
}
