package manage

import (
	"fmt"
	"io"
	"strings"
)

// WriteText says, for people, where a change went: every store written
// (and which running servers read it) and every running server that
// applied it. Failed deliveries are left out: they are in the change's
// error. A nil Result writes nothing.
func (r *Result) WriteText(w io.Writer) {
	if r == nil {
		return
	}
	for _, d := range r.Deliveries {
		if d.Err != nil {
			continue // in the error that follows
		}
		switch {
		case d.Server != nil && d.Note != "":
			fmt.Fprintf(w, "  %s: %s\n", d.Target, d.Note)
		case d.Server != nil:
			fmt.Fprintf(w, "applied account %s on %s (%s)\n", d.Account, d.Target, d.Took.Round(1e6))
		case d.Deleted:
			fmt.Fprintf(w, "deleted account %s from %s%s\n", d.Account, d.Target, r.readers(d))
		default:
			fmt.Fprintf(w, "published account %s to %s (%s)%s\n", d.Account, d.Target, d.Change, r.readers(d))
		}
	}
}

// readers says which running servers read a store, or that none does.
func (r *Result) readers(d Delivery) string {
	switch {
	case len(d.Readers) > 0:
		return ", read by " + strings.Join(d.Readers, ", ")
	case len(r.Servers) == 0:
		return "; no natsauth serve is running from this home (servers read the store when they start)"
	}
	return "; no running server reads it"
}
