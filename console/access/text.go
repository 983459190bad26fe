package access

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// WriteUsers writes console users for people — a table of name, role,
// account and creation time — or, with asJSON, as indented JSON without
// their password hashes.
func WriteUsers(w io.Writer, us []User, asJSON bool) error {
	if asJSON {
		out := make([]User, len(us))
		for i, u := range us {
			u.PasswordHash = ""
			out[i] = u
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tROLE\tACCOUNT\tCREATED")
	for _, u := range us {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Name, u.Role, u.Account, u.Created.Local().Format("2006-01-02 15:04"))
	}
	return tw.Flush()
}
