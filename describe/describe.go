// Package describe renders operators, accounts and users for people: the
// text of natsauth describe and of the summaries other commands print.
package describe

import (
	"cmp"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/jwt/v2"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// Operator renders the home's operator.
func Operator(w io.Writer, h *authority.Home) error {
	op := h.Operator()
	sysName := ""
	if sys, err := h.AccountByPub(op.SystemAccount); err == nil {
		sysName = sys.Name + " "
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "Operator\t%s\n", op.Name)
	fmt.Fprintf(tw, "  Public key\t%s\n", op.Subject)
	for i, sk := range op.SigningKeys {
		label := ""
		if i == 0 {
			label = "  Signing keys"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, sk)
	}
	fmt.Fprintf(tw, "  Requires signing keys\t%s\n", YesNo(op.StrictSigningKeyUsage))
	fmt.Fprintf(tw, "  System account\t%s%s\n", sysName, op.SystemAccount)
	fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(op.IssuedAt, "-"))
	fmt.Fprintf(tw, "  Expires\t%s\n", units.FormatTime(op.Expires, "never"))
	fmt.Fprintf(tw, "  Home\t%s\n", h.Dir())
	return tw.Flush()
}

// Account renders an account: keys, limits, JetStream, exports and
// imports, users and revocations.
func Account(w io.Writer, acc *authority.AccountInfo, users []authority.UserInfo) error {
	return account(w, acc, users, nil)
}

// account is Account, naming the source accounts of imports by names
// (public key to name) where known.
func account(w io.Writer, acc *authority.AccountInfo, users []authority.UserInfo, names map[string]string) error {
	c := acc.Claims
	tw := NewTable(w)
	title := acc.Name
	if acc.System {
		title += " (system account)"
	}
	fmt.Fprintf(tw, "Account\t%s\n", title)
	fmt.Fprintf(tw, "  Public key\t%s\n", acc.Pub)
	fmt.Fprintf(tw, "  Issuer\t%s\n", c.Issuer)
	for i, k := range signingKeyLines(c) {
		label := ""
		if i == 0 {
			label = "  Signing keys"
		}
		fmt.Fprintf(tw, "%s\t%s\n", label, k)
	}
	fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(c.IssuedAt, "-"))
	if c.NotBefore != 0 {
		fmt.Fprintf(tw, "  Valid from\t%s\n", units.FormatTime(c.NotBefore, "-"))
	}
	fmt.Fprintf(tw, "  Expires\t%s\n", units.FormatTime(c.Expires, "never"))
	for _, kv := range [][2]string{{"Description", c.Description}, {"Info URL", c.InfoURL}, {"Tags", strings.Join(c.Tags, ", ")}} {
		if kv[1] != "" {
			fmt.Fprintf(tw, "  %s\t%s\n", kv[0], kv[1])
		}
	}
	if t := c.Trace; t != nil && t.Destination != "" {
		fmt.Fprintf(tw, "  Message traces\tto %s, sampling %d%%\n", t.Destination, cmp.Or(t.Sampling, 100))
	}
	if dp := c.DefaultPermissions; len(dp.Pub.Allow)+len(dp.Pub.Deny)+len(dp.Sub.Allow)+len(dp.Sub.Deny) > 0 || dp.Resp != nil {
		fmt.Fprintf(tw, "Default permissions\t(users without their own)\n")
		permissionLines(tw, dp)
	}
	l := c.Limits
	fmt.Fprintf(tw, "Limits\t\n")
	fmt.Fprintf(tw, "  Max connections\t%s\n", units.FormatCount(l.Conn))
	fmt.Fprintf(tw, "  Max leaf node connections\t%s\n", units.FormatCount(l.LeafNodeConn))
	fmt.Fprintf(tw, "  Max data\t%s\n", units.FormatSize(l.Data))
	fmt.Fprintf(tw, "  Max exports\t%s\n", units.FormatCount(l.Exports))
	fmt.Fprintf(tw, "  Max imports\t%s\n", units.FormatCount(l.Imports))
	fmt.Fprintf(tw, "  Max payload\t%s\n", units.FormatSize(l.Payload))
	fmt.Fprintf(tw, "  Max subscriptions\t%s\n", units.FormatCount(l.Subs))
	fmt.Fprintf(tw, "  Wildcard exports\t%s\n", YesNo(l.WildcardExports))
	fmt.Fprintf(tw, "  Bearer tokens\t%s\n", map[bool]string{true: "refused", false: "allowed"}[l.DisallowBearer])
	if !l.IsJSEnabled() {
		fmt.Fprintf(tw, "JetStream\tdisabled\n")
	}
	tiers := map[string]jwt.JetStreamLimits{}
	if len(l.JetStreamTieredLimits) == 0 && l.IsJSEnabled() {
		tiers["global"] = l.JetStreamLimits
	}
	for k, v := range l.JetStreamTieredLimits {
		tiers["tier "+k] = v
	}
	for _, k := range sortedKeys(tiers) {
		js := tiers[k]
		fmt.Fprintf(tw, "JetStream\tenabled, %s limits\n", k)
		fmt.Fprintf(tw, "  Memory storage\t%s\n", jsStorage(js.MemoryStorage))
		fmt.Fprintf(tw, "  Disk storage\t%s\n", jsStorage(js.DiskStorage))
		fmt.Fprintf(tw, "  Streams\t%s\n", units.FormatCount(js.Streams))
		fmt.Fprintf(tw, "  Consumers\t%s\n", units.FormatCount(js.Consumer))
		fmt.Fprintf(tw, "  Max ack pending\t%s\n", units.FormatCount(js.MaxAckPending))
		fmt.Fprintf(tw, "  Max memory / disk stream\t%s / %s\n", units.FormatSize(js.MemoryMaxStreamBytes), units.FormatSize(js.DiskMaxStreamBytes))
		fmt.Fprintf(tw, "  Streams must set max bytes\t%s\n", YesNo(js.MaxBytesRequired))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(c.Exports) > 0 {
		fmt.Fprintf(w, "Exports (%d)\n", len(c.Exports))
		for _, x := range c.Exports {
			fmt.Fprintf(w, "  %s\n", ExportLine(x))
		}
	}
	if len(c.Imports) > 0 {
		fmt.Fprintf(w, "Imports (%d)\n", len(c.Imports))
		for _, im := range c.Imports {
			fmt.Fprintf(w, "  %s\n", ImportLine(im, cmp.Or(names[im.Account], im.Account)))
		}
	}
	var userNames []string
	for _, u := range users {
		userNames = append(userNames, u.Name)
	}
	fmt.Fprintf(w, "Users (%d)  %s\n", len(users), strings.Join(userNames, ", "))
	if len(c.Revocations) > 0 {
		fmt.Fprintf(w, "Revocations (%d)\n", len(c.Revocations))
		byPub := map[string]string{}
		for _, u := range users {
			byPub[u.Pub] = u.Name
		}
		keys := make([]string, 0, len(c.Revocations))
		for k := range c.Revocations {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		tw = NewTable(w)
		for _, k := range keys {
			fmt.Fprintf(tw, "  %s\t%s\tissued at or before %s\n", k, byPub[k], units.FormatTime(c.Revocations[k], "-"))
		}
		return tw.Flush()
	}
	return nil
}

// User renders a user of acc: keys, validity, permissions and limits.
func User(w io.Writer, acc *authority.AccountInfo, u *authority.UserInfo, credsPath string) error {
	c := u.Claims
	tw := NewTable(w)
	fmt.Fprintf(tw, "User\t%s\n", u.Name)
	fmt.Fprintf(tw, "  Account\t%s %s\n", acc.Name, acc.Pub)
	fmt.Fprintf(tw, "  Public key\t%s\n", u.Pub)
	fmt.Fprintf(tw, "  Issuer\t%s\n", c.Issuer)
	fmt.Fprintf(tw, "  Issued\t%s\n", units.FormatTime(c.IssuedAt, "-"))
	fmt.Fprintf(tw, "  Valid from\t%s\n", units.FormatTime(c.NotBefore, "issue time"))
	exp := units.FormatTime(c.Expires, "never")
	if c.Expires != 0 && time.Unix(c.Expires, 0).Before(time.Now()) {
		exp += " (expired)"
	}
	fmt.Fprintf(tw, "  Expires\t%s\n", exp)
	fmt.Fprintf(tw, "  Bearer token\t%s\n", YesNo(c.BearerToken))
	fmt.Fprintf(tw, "  Revoked\t%s\n", YesNo(acc.IsRevoked(u)))
	fmt.Fprintf(tw, "  Creds\t%s\n", credsPath)
	p := c.Permissions
	fmt.Fprintf(tw, "Permissions\t\n")
	lines := []struct {
		name string
		v    []string
	}{{"Publish allow", p.Pub.Allow}, {"Publish deny", p.Pub.Deny}, {"Subscribe allow", p.Sub.Allow}, {"Subscribe deny", p.Sub.Deny}}
	for _, l := range lines {
		v := "-"
		if len(l.v) > 0 {
			v = strings.Join(l.v, ", ")
		} else if strings.HasSuffix(l.name, "allow") {
			v = "all"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", l.name, v)
	}
	resp := "-"
	if p.Resp != nil {
		resp = Resp(p.Resp.MaxMsgs, p.Resp.Expires)
	}
	fmt.Fprintf(tw, "  Responses\t%s\n", resp)
	fmt.Fprintf(tw, "Limits\t\n")
	fmt.Fprintf(tw, "  Max subscriptions\t%s\n", units.FormatCount(c.Limits.Subs))
	fmt.Fprintf(tw, "  Max data\t%s\n", units.FormatSize(c.Limits.Data))
	fmt.Fprintf(tw, "  Max payload\t%s\n", units.FormatSize(c.Limits.Payload))
	src := "any"
	if len(c.Src) > 0 {
		src = strings.Join(c.Src, ", ")
	}
	fmt.Fprintf(tw, "  Source networks\t%s\n", src)
	if len(c.AllowedConnectionTypes) > 0 {
		fmt.Fprintf(tw, "  Connection types\t%s\n", strings.Join(c.AllowedConnectionTypes, ", "))
	}
	for i, tr := range c.Times {
		label := ""
		if i == 0 {
			label = "  Connect only within"
		}
		fmt.Fprintf(tw, "%s\t%s-%s %s\n", label, tr.Start, tr.End, c.Locale)
	}
	if len(c.Tags) > 0 {
		fmt.Fprintf(tw, "  Tags\t%s\n", strings.Join(c.Tags, ", "))
	}
	return tw.Flush()
}

// Permissions prints allow/deny lists and the response permission.
func Permissions(w io.Writer, p jwt.Permissions) {
	for _, l := range []struct {
		name string
		v    []string
	}{
		{"pub allow", p.Pub.Allow}, {"pub deny", p.Pub.Deny}, {"sub allow", p.Sub.Allow}, {"sub deny", p.Sub.Deny},
	} {
		if len(l.v) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", l.name, strings.Join(l.v, ", "))
		}
	}
	if p.Resp != nil {
		fmt.Fprintf(w, "  %-10s %s\n", "responses", Resp(p.Resp.MaxMsgs, p.Resp.Expires))
	}
}

// permissionLines writes the lists of p into a table.
func permissionLines(tw io.Writer, p jwt.Permissions) {
	for _, l := range []struct {
		name string
		v    []string
	}{{"Publish allow", p.Pub.Allow}, {"Publish deny", p.Pub.Deny}, {"Subscribe allow", p.Sub.Allow}, {"Subscribe deny", p.Sub.Deny}} {
		if len(l.v) > 0 {
			fmt.Fprintf(tw, "  %s\t%s\n", l.name, strings.Join(l.v, ", "))
		}
	}
	if p.Resp != nil {
		fmt.Fprintf(tw, "  Responses\t%s\n", Resp(p.Resp.MaxMsgs, p.Resp.Expires))
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// signingKeyLines renders an account's signing keys.
func signingKeyLines(c *jwt.AccountClaims) []string {
	keys := c.SigningKeys.Keys()
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		if us, ok := c.SigningKeys[k].(*jwt.UserScope); ok && us != nil {
			out = append(out, fmt.Sprintf("%s (scoped, role %q)", k, us.Role))
			continue
		}
		out = append(out, k)
	}
	return out
}

// UserSigner says which signing key signed a user, and its role.
func UserSigner(w io.Writer, acc *authority.AccountInfo, u *authority.UserInfo) {
	if u.Claims.IssuerAccount == "" || acc == nil {
		return
	}
	if us, ok := acc.Claims.SigningKeys[u.Claims.Issuer].(*jwt.UserScope); ok && us != nil {
		fmt.Fprintf(w, "  %-10s %s (scoped, role %q: its template sets the permissions)\n", "signer", u.Claims.Issuer, us.Role)
		return
	}
	fmt.Fprintf(w, "  %-10s %s (account signing key)\n", "signer", u.Claims.Issuer)
}

// UserSummary prints a user's permissions in a few lines.
func UserSummary(w io.Writer, u *authority.UserInfo) {
	p := u.Claims.Permissions
	for _, l := range []struct {
		name string
		v    []string
	}{
		{"pub allow", p.Pub.Allow}, {"pub deny", p.Pub.Deny}, {"sub allow", p.Sub.Allow}, {"sub deny", p.Sub.Deny},
	} {
		if len(l.v) > 0 {
			fmt.Fprintf(w, "  %-10s %s\n", l.name, strings.Join(l.v, ", "))
		}
	}
	if p.Resp != nil {
		fmt.Fprintf(w, "  %-10s %s\n", "responses", Resp(p.Resp.MaxMsgs, p.Resp.Expires))
	}
	if u.Claims.Expires != 0 {
		fmt.Fprintf(w, "  %-10s %s\n", "expires", units.FormatTime(u.Claims.Expires, "never"))
	}
}

// Resp renders a response permission.
func Resp(maxMsgs int, ttl time.Duration) string {
	count := "1 (server default)"
	switch {
	case maxMsgs < 0:
		count = "unlimited"
	case maxMsgs > 0:
		count = strconv.Itoa(maxMsgs)
	}
	t := "2m (server default)"
	if ttl > 0 {
		t = ttl.String()
	}
	return fmt.Sprintf("max %s per request, within %s", count, t)
}

// NewTable is a table writer for aligned columns.
func NewTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

// YesNo renders a flag for people.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// jsStorage renders a JetStream storage limit, where 0 means none.
func jsStorage(n int64) string {
	if n == 0 {
		return "none"
	}
	return units.FormatSize(n)
}

// AuthCallout prints an account's auth callout configuration, naming
// users and accounts of the home.
func AuthCallout(w io.Writer, h *authority.Home, acc *authority.AccountInfo) error {
	x := acc.Claims.Authorization
	if !x.IsEnabled() {
		_, err := fmt.Fprintln(w, "Auth callout  disabled")
		return err
	}
	userNames := map[string]string{}
	if users, err := h.Users(acc.Name); err == nil {
		for _, u := range users {
			userNames[u.Pub] = u.Name
		}
	}
	accNames := map[string]string{authority.AnyAccount: "any account"}
	if accs, err := h.Accounts(); err == nil {
		for _, a := range accs {
			accNames[a.Pub] = a.Name
		}
	}
	tw := NewTable(w)
	fmt.Fprintf(tw, "Auth callout\tenabled\n")
	for i, u := range x.AuthUsers {
		label := ""
		if i == 0 {
			label = "  Auth users"
		}
		fmt.Fprintf(tw, "%s\t%s %s\n", label, u, userNames[u])
	}
	if len(x.AllowedAccounts) == 0 {
		fmt.Fprintf(tw, "  Allowed accounts\t(none: users stay in %s)\n", acc.Name)
	}
	for i, k := range x.AllowedAccounts {
		label := ""
		if i == 0 {
			label = "  Allowed accounts"
		}
		fmt.Fprintf(tw, "%s\t%s %s\n", label, k, accNames[k])
	}
	xkey := "none (requests are not encrypted)"
	if x.XKey != "" {
		xkey = x.XKey
		if _, err := h.CurveKey(x.XKey); err == nil {
			xkey += " (seed in the keystore)"
		} else {
			xkey += " (seed not in this keystore)"
		}
	}
	fmt.Fprintf(tw, "  Curve key\t%s\n", xkey)
	return tw.Flush()
}

// RestartNote tells the operator what a change of the operator JWT needs.
func RestartNote(w io.Writer, h *authority.Home) {
	fmt.Fprintf(w, "note: servers read the operator JWT only at start. Restart every natsauth serve, and give stock\n"+
		"  nats-servers the new operator JWT (%s, or natsauth describe operator --raw) before restarting them.\n",
		h.OperatorJWTPath())
}

// SigningKeyChanges reports the signing keys an edit added and removed.
func SigningKeyChanges(w io.Writer, before, after *authority.AccountInfo) {
	added, removed := authority.SigningKeyChanges(before, after)
	for _, k := range added {
		fmt.Fprintf(w, "  added signing key %s (new users of %s are signed with it)\n", k, after.Name)
	}
	for _, k := range removed {
		fmt.Fprintf(w, "  removed signing key %s\n", k)
	}
}
