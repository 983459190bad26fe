package declare

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"github.com/nats-io/jwt/v2"
	"golang.org/x/sync/errgroup"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/jsondiff"
)

// Plan is what applying a file would do (or did): object by object, field
// by field, with the objects the file leaves alone and the accounts whose
// served JWT differs from the home's.
type Plan struct {
	File   string `json:"file"`
	SHA256 string `json:"sha256"`
	Home   string `json:"home"`
	// Changes are the accounts and users to create, update or delete.
	Changes []Change `json:"changes"`
	// Unmanaged are the home's accounts and users the file does not name;
	// they are left as they are (apply --prune deletes them).
	Unmanaged []Object `json:"unmanaged,omitempty"`
	// Drift lists accounts whose JWT where the servers read differs from
	// the home's.
	Drift []Drift `json:"drift,omitempty"`
}

// Object names an account ("Orders") or a user ("Orders/alice").
type Object struct {
	Kind    string `json:"kind"` // account or user
	Account string `json:"account"`
	User    string `json:"user,omitempty"`
}

func (o Object) String() string {
	if o.Kind == "user" {
		return "user " + o.Account + "/" + o.User
	}
	return "account " + o.Account
}

// Change is one object created, updated or deleted: the claims that
// change, field by field (a new object: those that differ from nsc's
// defaults). Claims are public: no seed is ever in a plan.
type Change struct {
	Object
	Action  string            `json:"action"` // create, update or delete
	Where   string            `json:"where,omitempty"`
	Fields  []jsondiff.Change `json:"fields,omitempty"`
	Note    string            `json:"note,omitempty"`
	Applied bool              `json:"applied,omitempty"`
}

// Drift is one account whose JWT where servers read is not the home's.
type Drift struct {
	Account string `json:"account"`
	Target  string `json:"target"` // a store URL (redacted) or a server
	Problem string `json:"problem"`
}

// Counts returns how many objects are created, updated and deleted.
func (p *Plan) Counts() (create, update, del int) {
	for _, c := range p.Changes {
		switch c.Action {
		case authority.Create:
			create++
		case authority.Update:
			update++
		case authority.Delete:
			del++
		}
	}
	return
}

// Empty reports whether applying would change nothing and nothing drifted.
func (p *Plan) Empty() bool { return len(p.Changes) == 0 && len(p.Drift) == 0 }

// volatile are the claims that differ with every JWT (and, for a new
// object, the keys the home generates).
var volatile = []string{"iat", "jti"}
var newKeys = []string{"iat", "jti", "sub", "iss", "name", "nats.issuer_account", "nats.type", "nats.version"}

// NewPlan describes a reconciliation of the home at home with file f.
func NewPlan(f *File, home string, rec *authority.Reconciliation) *Plan {
	p := &Plan{File: f.Name, SHA256: f.SHA256, Home: home, Changes: make([]Change, len(rec.Changes))}
	var g errgroup.Group
	g.SetLimit(runtime.GOMAXPROCS(0))
	for i := range rec.Changes {
		g.Go(func() error { p.Changes[i] = change(rec.Changes[i]); return nil })
	}
	_ = g.Wait()
	for _, u := range rec.Unmanaged {
		p.Unmanaged = append(p.Unmanaged, object(u))
	}
	return p
}

func object(c authority.ObjectChange) Object {
	if c.User != "" {
		return Object{Kind: "user", Account: c.Account, User: c.User}
	}
	return Object{Kind: "account", Account: c.Account}
}

func change(c authority.ObjectChange) Change {
	out := Change{Object: object(c), Action: c.Action, Where: c.Where, Note: c.Note, Applied: c.Info != nil || c.UserInfo != nil}
	var before any = c.Before
	ignore := volatile
	if c.Action == authority.Create {
		ignore = newKeys
		switch a := c.After.(type) {
		case *jwt.AccountClaims:
			before = jwt.NewAccountClaims(a.Subject)
		case *jwt.UserClaims:
			before = jwt.NewUserClaims(a.Subject)
		}
	}
	if c.Action != authority.Delete {
		fields, _ := jsondiff.Diff(before, c.After, ignore...)
		out.Fields = readable(fields)
	}
	return out
}

// readable shortens what people need not read in a diff: an empty object
// or list that gave way to its first elements, activation tokens, keys a
// dry run has yet to generate, and JSON's escaping of < > &.
func readable(fields []jsondiff.Change) []jsondiff.Change {
	out := fields[:0]
	for i, f := range fields {
		if (f.Old == "{}" || f.Old == "[]") && f.New == "" && i+1 < len(fields) &&
			(strings.HasPrefix(fields[i+1].Path, f.Path+".") || strings.HasPrefix(fields[i+1].Path, f.Path+"[")) {
			continue
		}
		if strings.HasSuffix(f.Path, ".token") {
			f.Old, f.New = tokenLabel(f.Old), tokenLabel(f.New)
		}
		f.Old, f.New = unescape(f.Old), unescape(f.New)
		out = append(out, f)
	}
	return out
}

var unescaper = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&")

// unescape undoes JSON's HTML escaping and names placeholder keys.
func unescape(v string) string {
	v = unescaper.Replace(v)
	if s, err := strconv.Unquote(v); err == nil && authority.IsPlaceholder(s) {
		return "(a key generated at apply)"
	}
	return v
}

// tokenLabel shortens an activation token for people.
func tokenLabel(v string) string {
	if v == "" {
		return ""
	}
	return `"(activation token)"`
}

// WriteText writes the plan for people: one block per object, then the
// objects left alone, the drift, and a summary.
func (p *Plan) WriteText(w io.Writer) {
	for _, c := range p.Changes {
		sign := map[string]string{authority.Create: "+", authority.Update: "~", authority.Delete: "-"}[c.Action]
		verb := map[string]string{authority.Create: "create", authority.Update: "update", authority.Delete: "delete"}[c.Action]
		if c.Applied {
			verb += "d"
		}
		line := fmt.Sprintf("%s %s %s", sign, verb, c.Object)
		if c.Where != "" {
			line += " (" + c.Where + ")"
		}
		if c.Note != "" {
			line += ": " + c.Note
		}
		fmt.Fprintln(w, line)
		for _, f := range c.Fields {
			fmt.Fprintf(w, "    %s\n", f)
		}
	}
	for _, u := range p.Unmanaged {
		fmt.Fprintf(w, "  %s is not in the file: left as it is (apply --prune deletes it)\n", u)
	}
	for _, d := range p.Drift {
		fmt.Fprintf(w, "! drift: account %s at %s: %s\n", d.Account, d.Target, d.Problem)
	}
	c, u, d := p.Counts()
	summary := fmt.Sprintf("%d to create, %d to update, %d to delete", c, u, d)
	if len(p.Changes) > 0 && p.Changes[0].Applied {
		summary = fmt.Sprintf("%d created, %d updated, %d deleted", c, u, d)
	}
	if len(p.Unmanaged) > 0 {
		summary += fmt.Sprintf(", %d not in the file", len(p.Unmanaged))
	}
	if len(p.Drift) > 0 {
		summary += fmt.Sprintf(", %d drifted", len(p.Drift))
	}
	if p.Empty() {
		summary = "no changes: the home matches " + p.File
		if len(p.Unmanaged) > 0 {
			summary += fmt.Sprintf(" (%d not in the file)", len(p.Unmanaged))
		}
	}
	fmt.Fprintln(w, summary)
}
