package describe

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// ExportRow is one export as `list exports --json` prints it: the export
// with nsc's JWT fields, its account and the accounts that import it.
type ExportRow struct {
	Account    string `json:"exporter"`
	AccountPub string `json:"exporter_public_key"`
	jwt.Export
	ImportedBy []string `json:"imported_by"`
}

// ExportRows turns the home's exports into rows.
func ExportRows(in []authority.ExportInfo) []ExportRow {
	out := make([]ExportRow, 0, len(in))
	for _, x := range in {
		out = append(out, ExportRow{Account: x.Account, AccountPub: x.AccountPub, Export: x.Export, ImportedBy: x.Importers})
	}
	return out
}

// ImportRow is one import as `list imports --json` prints it: the import
// with nsc's JWT fields ("account" is the source's public key), the
// importing account, the source's name, and why servers refuse it.
type ImportRow struct {
	Account    string `json:"importer"`
	AccountPub string `json:"importer_public_key"`
	Source     string `json:"source"` // the source's name, or its public key when not in the home
	jwt.Import
	TokenExpires int64    `json:"token_expires,omitempty"` // unix seconds
	Problems     []string `json:"problems,omitempty"`
}

// ImportRows turns the home's imports into rows.
func ImportRows(in []authority.ImportInfo) []ImportRow {
	out := make([]ImportRow, 0, len(in))
	for _, im := range in {
		r := ImportRow{Account: im.Account, AccountPub: im.AccountPub, Source: im.Source, Import: im.Import, Problems: im.Problems}
		if im.Activation != nil {
			r.TokenExpires = im.Activation.Expires
		}
		out = append(out, r)
	}
	return out
}

// ExportLine renders an export on one line: kind, subject, access and
// settings.
func ExportLine(x *jwt.Export) string {
	s := fmt.Sprintf("%s %s (%s", x.Type, x.Subject, map[bool]string{true: "private", false: "public"}[x.TokenReq])
	if x.Name != "" && x.Name != string(x.Subject) {
		s += ", name " + x.Name
	}
	if x.IsService() {
		s += ", responses " + string(x.ResponseType)
		if x.ResponseThreshold > 0 {
			s += " within " + x.ResponseThreshold.String()
		}
	}
	if l := x.Latency; l != nil {
		rate := fmt.Sprintf("%d%%", l.Sampling)
		if l.Sampling == jwt.Headers {
			rate = "header"
		}
		s += fmt.Sprintf(", latency to %s sampling %s", l.Results, rate)
	}
	if x.AccountTokenPosition > 0 {
		s += fmt.Sprintf(", token %d is the importer's account", x.AccountTokenPosition)
	}
	if x.AllowTrace {
		s += ", traces allowed"
	}
	if n := len(x.Revocations); n > 0 {
		s += fmt.Sprintf(", %d activation revocation(s)", n)
	}
	return s + ")"
}

// ExportOf renders acc's export of subject (ExportLine), or the subject
// when acc has none.
func ExportOf(acc *authority.AccountInfo, subject string) string {
	for _, x := range acc.Claims.Exports {
		if string(x.Subject) == subject {
			return ExportLine(x)
		}
	}
	return subject
}

// ImportLine renders an import on one line: kind, remote and local
// subject, source, token.
func ImportLine(im *jwt.Import, source string) string {
	s := fmt.Sprintf("%s %s from %s", im.Type, im.Subject, source)
	if local := string(im.LocalSubject); local != "" && local != string(im.Subject) {
		s += " as " + local
	}
	if im.Token != "" {
		exp := "never expires"
		if act, err := jwt.DecodeActivationClaims(im.Token); err == nil && act.Expires != 0 {
			exp = "expires " + units.FormatTime(act.Expires, "never")
		} else if err != nil {
			exp = "unreadable"
		}
		s += " (activation token, " + exp + ")"
	}
	if im.Share {
		s += " (shares latency details)"
	}
	if im.AllowTrace {
		s += " (traces allowed)"
	}
	return s
}

// Exports renders export rows as a table.
func Exports(w io.Writer, rows []ExportRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no account exports anything")
		return err
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "ACCOUNT\tEXPORT\tIMPORTED BY\n")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Account, ExportLine(&r.Export), dashIfEmpty(strings.Join(r.ImportedBy, ", ")))
	}
	return tw.Flush()
}

// Imports renders import rows as a table.
func Imports(w io.Writer, rows []ImportRow) error {
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, "no account imports anything")
		return err
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "ACCOUNT\tIMPORT\tSTATUS\n")
	for _, r := range rows {
		status := "ok"
		if len(r.Problems) > 0 {
			status = "BROKEN: " + strings.Join(r.Problems, "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Account, ImportLine(&r.Import, r.Source), status)
	}
	return tw.Flush()
}

// AccountInHome renders an account of h (Account) with who imports its
// exports, which of its imports are broken (Sharing) and, for a callout
// account, its auth callout (AuthCallout).
func AccountInHome(w io.Writer, h *authority.Home, acc *authority.AccountInfo) error {
	users, err := h.Users(acc.Name)
	if err != nil {
		return err
	}
	exps, err := h.Exports()
	if err != nil {
		return err
	}
	imps, err := h.Imports(time.Now())
	if err != nil {
		return err
	}
	accs, err := h.Accounts()
	if err != nil {
		return err
	}
	names := map[string]string{}
	for _, a := range accs {
		names[a.Pub] = a.Name
	}
	if err := account(w, acc, users, names); err != nil {
		return err
	}
	if err := Sharing(w, acc, exps, imps); err != nil || !acc.Claims.Authorization.IsEnabled() {
		return err
	}
	return AuthCallout(w, h, acc)
}

// UserInHome renders a user of h (User) with its account and creds path.
func UserInHome(w io.Writer, h *authority.Home, u *authority.UserInfo) error {
	acc, err := h.Account(u.Account)
	if err != nil {
		return err
	}
	return User(w, acc, u, h.CredsPath(u.Account, u.Name))
}

// Sharing renders who imports acc's exports and the state of its imports,
// from the home's lists of every export and import.
func Sharing(w io.Writer, acc *authority.AccountInfo, exps []authority.ExportInfo, imps []authority.ImportInfo) error {
	var lines []string
	for _, x := range exps {
		if x.AccountPub == acc.Pub && len(x.Importers) > 0 {
			lines = append(lines, fmt.Sprintf("  %s %s\timported by %s", x.Export.Type, x.Export.Subject, strings.Join(x.Importers, ", ")))
		}
	}
	for _, im := range imps {
		if im.AccountPub == acc.Pub && len(im.Problems) > 0 {
			lines = append(lines, fmt.Sprintf("  import %s from %s\tBROKEN: %s", im.Import.Subject, im.Source, strings.Join(im.Problems, "; ")))
		}
	}
	if len(lines) == 0 {
		return nil
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "Sharing\t\n%s\n", strings.Join(lines, "\n"))
	return tw.Flush()
}

// Expirations renders when the home's JWTs expire.
func Expirations(w io.Writer, list []authority.Expiration, within string) error {
	tw := NewTable(w)
	fmt.Fprintf(tw, "KIND\tRESOURCE\tEXPIRES\tSTATUS\n")
	for _, e := range list {
		exp, status := "never", "ok"
		if !e.Expires.IsZero() {
			exp = units.FormatTime(e.Expires.Unix(), "never")
		}
		switch {
		case e.Expired:
			status = "EXPIRED"
		case e.ExpiresSoon:
			status = "expires within " + within
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Kind, e.Resource, exp, status)
	}
	return tw.Flush()
}

// Keys renders the keys the home's JWTs name and whether their seeds are
// in the keystore, then the seeds no JWT names.
func Keys(w io.Writer, keys []authority.KeyInfo, unreferenced []string) error {
	tw := NewTable(w)
	fmt.Fprintf(tw, "KIND\tNAME\tPUBLIC KEY\tKEY\tSEED STORED\n")
	for _, k := range keys {
		role := "identity"
		if k.Signing {
			role = strings.TrimSuffix("signing "+k.Role, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", k.Kind, k.Name, k.Pub, role, YesNo(k.Stored))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(unreferenced) > 0 {
		fmt.Fprintf(w, "Seeds no JWT of the home names (%d):\n  %s\n", len(unreferenced), strings.Join(unreferenced, "\n  "))
	}
	return nil
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
