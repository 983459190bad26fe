package doctor

import (
	"fmt"

	"github.com/natsauth/natsauth/authority"
)

// Err is how a run ends for CI: an error listing what could not be
// checked (Run.Check's incomplete), else one counting the high-severity
// findings, else nil.
func (r *Report) Err(incomplete []error) error {
	if len(incomplete) > 0 {
		p := authority.NewProblems("doctor: could not check everything")
		for _, err := range incomplete {
			p.AddErr(err)
		}
		return p.Err()
	}
	if n := r.Summary[High.String()]; n > 0 {
		return fmt.Errorf("doctor: %d high-severity findings", n)
	}
	return nil
}
