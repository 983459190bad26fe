package main

import (
	"fmt"
	"strings"

	"github.com/natsauth/natsauth/manage"
)

// writeResult says where a change went: every store written (and which
// running servers read it) and every running server that applied it.
func (a *app) writeResult(res *manage.Result) {
	if res == nil {
		return
	}
	for _, d := range res.Deliveries {
		if d.Err != nil {
			continue // in the error that follows
		}
		switch {
		case d.Server != nil && d.Note != "":
			fmt.Fprintf(a.out, "  %s: %s\n", d.Target, d.Note)
		case d.Server != nil:
			fmt.Fprintf(a.out, "applied account %s on %s (%s)\n", d.Account, d.Target, d.Took.Round(1e6))
		case d.Deleted:
			fmt.Fprintf(a.out, "deleted account %s from %s%s\n", d.Account, d.Target, readers(d, res))
		default:
			fmt.Fprintf(a.out, "published account %s to %s (%s)%s\n", d.Account, d.Target, d.Change, readers(d, res))
		}
	}
}

// readers says which running servers read a store, or that none does.
func readers(d manage.Delivery, res *manage.Result) string {
	switch {
	case len(d.Readers) > 0:
		return ", read by " + strings.Join(d.Readers, ", ")
	case len(res.Servers) == 0:
		return "; no natsauth serve is running from this home (servers read the store when they start)"
	}
	return "; no running server reads it"
}
