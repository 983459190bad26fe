package declare

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"gopkg.in/yaml.v3"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/internal/units"
)

// ExportOptions say what Export writes.
type ExportOptions struct {
	// Accounts names the accounts to write; empty writes every account but
	// the system account.
	Accounts []string
	// NoUsers leaves users out.
	NoUsers bool
	// Now dates the header comment (zero: now).
	Now time.Time
}

// Export writes the accounts of a home as a file that Parse reads back
// into the same claims. It never writes a seed or creds: keys whose seed
// is in the home's keystore (the keys it generated) are left out, so the
// file applied to another home gets keys of its own there; a key held
// elsewhere is written as its public key. An import of an account of the
// home carries no activation token (apply signs one); one from an account
// managed elsewhere keeps its token.
func Export(h *authority.Home, o ExportOptions) ([]byte, error) {
	accs, users, err := h.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	byPub := map[string]string{}
	byName := map[string]*authority.AccountInfo{}
	for i := range accs {
		byPub[accs[i].Pub], byName[accs[i].Name] = accs[i].Name, &accs[i]
	}
	var sel []*authority.AccountInfo
	if len(o.Accounts) == 0 {
		for i := range accs {
			if !accs[i].System {
				sel = append(sel, &accs[i])
			}
		}
	}
	var missing []string
	for _, n := range o.Accounts {
		switch a := byName[n]; {
		case a == nil:
			missing = append(missing, n)
		case a.System:
			return nil, fmt.Errorf("export: %s is the operator's system account, which a file does not manage", n)
		default:
			sel = append(sel, a)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("export: no account %s in the home %s: %w", strings.Join(missing, ", "), h.Dir(), authority.ErrNotFound)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	accounts := &yaml.Node{Kind: yaml.MappingNode}
	e := exporter{h: h, byPub: byPub, accounts: byName}
	for _, a := range sel {
		n := e.account(a)
		if !o.NoUsers {
			us := users[a.Name]
			if len(us) > 0 {
				un := &yaml.Node{Kind: yaml.MappingNode}
				for i := range us {
					put(un, us[i].Name, e.user(a, &us[i]))
				}
				put(n, "users", un)
			}
		}
		put(accounts, a.Name, n)
	}
	root := &yaml.Node{Kind: yaml.MappingNode}
	put(root, "version", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(Version)})
	put(root, "accounts", accounts)
	doc := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root},
		HeadComment: fmt.Sprintf("natsauth authority file (natsauth schema describes it; natsauth plan -f / apply -f apply it)\n"+
			"exported from operator %s on %s; no seed or creds is in it", h.OperatorName(), now.UTC().Format(time.RFC3339))}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	return buf.Bytes(), nil
}

// exporter writes the objects of one home.
type exporter struct {
	h        *authority.Home
	byPub    map[string]string // account names by public key
	accounts map[string]*authority.AccountInfo
}

func (e exporter) account(a *authority.AccountInfo) *yaml.Node {
	ac := a.Claims
	n := &yaml.Node{Kind: yaml.MappingNode}
	if !e.h.HasSeed(a.Pub) {
		put(n, "public-key", str(a.Pub))
	}
	putStr(n, "description", ac.Description)
	putStr(n, "info-url", ac.InfoURL)
	putList(n, "tags", ac.Tags)
	putTime(n, "expiry", ac.Expires)
	putTime(n, "start", ac.NotBefore)
	def := authority.DefaultLimits()
	l := &yaml.Node{Kind: yaml.MappingNode}
	putCount(l, "max-connections", ac.Limits.Conn, def.Conn)
	putCount(l, "max-leafnodes", ac.Limits.LeafNodeConn, def.LeafNodeConn)
	putSize(l, "max-data", ac.Limits.Data, def.Data)
	putCount(l, "max-exports", ac.Limits.Exports, def.Exports)
	putCount(l, "max-imports", ac.Limits.Imports, def.Imports)
	putSize(l, "max-payload", ac.Limits.Payload, def.Payload)
	putCount(l, "max-subscriptions", ac.Limits.Subs, def.Subs)
	putBool(l, "disallow-bearer", ac.Limits.DisallowBearer, false)
	putBool(l, "wildcard-exports", ac.Limits.WildcardExports, true)
	putNode(n, "limits", l)
	if js := ac.Limits.JetStreamLimits; js != (jwt.JetStreamLimits{}) {
		put(n, "jetstream", jetstream(js))
	}
	if len(ac.Limits.JetStreamTieredLimits) > 0 {
		t := &yaml.Node{Kind: yaml.MappingNode}
		for _, k := range sortedKeys(ac.Limits.JetStreamTieredLimits) {
			put(t, k, jetstream(ac.Limits.JetStreamTieredLimits[k]))
		}
		put(n, "jetstream-tiers", t)
	}
	if tr := ac.Trace; tr != nil && tr.Destination != "" {
		t := &yaml.Node{Kind: yaml.MappingNode}
		put(t, "subject", str(string(tr.Destination)))
		if tr.Sampling != 0 && tr.Sampling != 100 {
			put(t, "sampling", num(int64(tr.Sampling)))
		}
		put(n, "trace", t)
	}
	putNode(n, "default-permissions", perms(ac.DefaultPermissions))
	if len(ac.SigningKeys) > 0 {
		put(n, "signing-keys", e.signingKeys(ac.SigningKeys))
	}
	if len(ac.Exports) > 0 {
		xs := &yaml.Node{Kind: yaml.SequenceNode}
		for _, x := range ac.Exports {
			if x != nil {
				xs.Content = append(xs.Content, export(x))
			}
		}
		put(n, "exports", xs)
	}
	if len(ac.Imports) > 0 {
		is := &yaml.Node{Kind: yaml.SequenceNode}
		for _, im := range ac.Imports {
			if im != nil {
				is.Content = append(is.Content, e.imp(a, im))
			}
		}
		put(n, "imports", is)
	}
	return n
}

func (e exporter) signingKeys(sks jwt.SigningKeys) *yaml.Node {
	keys := sortedKeys(sks)
	sort.SliceStable(keys, func(i, j int) bool { return role(sks, keys[i]) < role(sks, keys[j]) })
	out := &yaml.Node{Kind: yaml.SequenceNode}
	for _, k := range keys {
		n := &yaml.Node{Kind: yaml.MappingNode}
		seed := e.h.HasSeed(k)
		if !seed {
			put(n, "key", str(k))
		}
		if s, ok := sks.GetScope(k); ok && s != nil {
			if us, ok := s.(*jwt.UserScope); ok {
				put(n, "role", str(us.Role))
				putNode(n, "template", limits(us.Template, jwt.NewUserScope().Template))
			}
		}
		if seed {
			// A key of this home: the file applied elsewhere gets another.
			n.HeadComment = k + " (seed in the home it was exported from)"
		}
		if len(n.Content) == 0 {
			n.Style = yaml.FlowStyle
		}
		out.Content = append(out.Content, n)
	}
	return out
}

func role(sks jwt.SigningKeys, k string) string {
	if s, ok := sks.GetScope(k); ok && s != nil {
		if us, ok := s.(*jwt.UserScope); ok {
			return "1" + us.Role
		}
	}
	return "0"
}

func (e exporter) user(a *authority.AccountInfo, u *authority.UserInfo) *yaml.Node {
	uc := u.Claims
	n := &yaml.Node{Kind: yaml.MappingNode}
	if !e.h.HasSeed(u.Pub) {
		put(n, "public-key", str(u.Pub))
	}
	scoped := false
	if s, ok := a.Claims.SigningKeys.GetScope(uc.Issuer); ok && s != nil {
		if us, ok := s.(*jwt.UserScope); ok {
			put(n, "signing-key", str(us.Role))
			scoped = true
		}
	}
	if !scoped {
		n.Content = append(n.Content, limits(uc.UserPermissionLimits, authority.DefaultUserLimits()).Content...)
	}
	putTime(n, "expiry", uc.Expires)
	putTime(n, "start", uc.NotBefore)
	putList(n, "tags", uc.Tags)
	if len(n.Content) == 0 {
		n.Style = yaml.FlowStyle
	}
	return n
}

func jetstream(js jwt.JetStreamLimits) *yaml.Node {
	d := jsDefaults()
	n := &yaml.Node{Kind: yaml.MappingNode}
	put(n, "mem-storage", size(js.MemoryStorage))
	put(n, "disk-storage", size(js.DiskStorage))
	putCount(n, "streams", js.Streams, d.Streams)
	putCount(n, "consumer", js.Consumer, d.Consumer)
	putCount(n, "max-ack-pending", js.MaxAckPending, d.MaxAckPending)
	putSize(n, "max-mem-stream", js.MemoryMaxStreamBytes, d.MemoryMaxStreamBytes)
	putSize(n, "max-disk-stream", js.DiskMaxStreamBytes, d.DiskMaxStreamBytes)
	putBool(n, "max-bytes-required", js.MaxBytesRequired, false)
	return n
}

func perms(p jwt.Permissions) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	putList(n, "allow-pub", p.Pub.Allow)
	putList(n, "allow-sub", p.Sub.Allow)
	putList(n, "deny-pub", p.Pub.Deny)
	putList(n, "deny-sub", p.Sub.Deny)
	if p.Resp != nil {
		put(n, "allow-pub-response", num(int64(p.Resp.MaxMsgs)))
		if p.Resp.Expires != 0 {
			put(n, "response-ttl", str(p.Resp.Expires.String()))
		}
	}
	return n
}

// limits writes a user's (or template's) permissions and limits, those
// that differ from def.
func limits(l, def jwt.UserPermissionLimits) *yaml.Node {
	n := perms(l.Permissions)
	putBool(n, "bearer", l.BearerToken, false)
	putList(n, "source-networks", l.Src)
	putCount(n, "max-subscriptions", l.Subs, def.Subs)
	putSize(n, "max-data", l.Data, def.Data)
	putSize(n, "max-payload", l.Payload, def.Payload)
	putList(n, "conn-types", l.AllowedConnectionTypes)
	if len(l.Times) > 0 {
		ts := make([]string, len(l.Times))
		for i, t := range l.Times {
			ts[i] = t.Start + "-" + t.End
		}
		putList(n, "times", ts)
	}
	putStr(n, "locale", l.Locale)
	return n
}

func export(x *jwt.Export) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	put(n, "subject", str(string(x.Subject)))
	if x.IsService() {
		put(n, "type", str("service"))
	}
	if x.Name != string(x.Subject) {
		putStr(n, "name", x.Name)
	}
	putBool(n, "private", x.TokenReq, false)
	if x.ResponseType != "" && !(x.IsService() && x.ResponseType == jwt.ResponseTypeSingleton) {
		put(n, "response-type", str(string(x.ResponseType)))
	}
	if x.ResponseThreshold != 0 {
		put(n, "response-threshold", str(x.ResponseThreshold.String()))
	}
	if l := x.Latency; l != nil {
		ln := &yaml.Node{Kind: yaml.MappingNode}
		put(ln, "subject", str(string(l.Results)))
		if l.Sampling == jwt.Headers {
			put(ln, "sampling", str("header"))
		} else {
			put(ln, "sampling", num(int64(l.Sampling)))
		}
		put(n, "latency", ln)
	}
	if x.AccountTokenPosition > 0 {
		put(n, "account-token-position", num(int64(x.AccountTokenPosition)))
	}
	putBool(n, "allow-trace", x.AllowTrace, false)
	putStr(n, "description", x.Description)
	putStr(n, "info-url", x.InfoURL)
	return n
}

func (e exporter) imp(importer *authority.AccountInfo, im *jwt.Import) *yaml.Node {
	n := &yaml.Node{Kind: yaml.MappingNode}
	src, inHome := e.byPub[im.Account]
	subject := string(im.Subject)
	if !inHome {
		src = im.Account
	} else {
		subject = authority.ImporterTokenOut(e.accounts[src].Claims, im, importer.Pub)
	}
	put(n, "account", str(src))
	put(n, "subject", str(subject))
	if im.IsService() {
		put(n, "type", str("service"))
	}
	putStr(n, "local-subject", string(im.LocalSubject))
	if im.Name != string(im.Subject) {
		putStr(n, "name", im.Name)
	}
	putBool(n, "share", im.Share, false)
	putBool(n, "allow-trace", im.AllowTrace, false)
	if !inHome {
		putStr(n, "token", im.Token)
	}
	return n
}

// Node builders.

func put(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, str(key), v)
}

func putNode(m *yaml.Node, key string, v *yaml.Node) {
	if len(v.Content) > 0 {
		put(m, key, v)
	}
}

func str(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s} }

func num(v int64) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(v, 10)}
}

func putStr(m *yaml.Node, key, v string) {
	if v != "" {
		put(m, key, str(v))
	}
}

func putBool(m *yaml.Node, key string, v, def bool) {
	if v != def {
		put(m, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)})
	}
}

func putCount(m *yaml.Node, key string, v, def int64) {
	if v != def {
		put(m, key, num(v))
	}
}

func putSize(m *yaml.Node, key string, v, def int64) {
	if v != def {
		put(m, key, size(v))
	}
}

// size writes a byte count with its largest exact unit ("10GB"), or as a
// number.
func size(v int64) *yaml.Node {
	if v <= 0 {
		return num(v)
	}
	s := strings.ReplaceAll(units.FormatSize(v), " ", "")
	if b, ok := strings.CutSuffix(s, "B"); ok && !strings.ContainsAny(b, "KMGTPEi") {
		return num(v)
	}
	return str(s)
}

func putList[S ~[]string](m *yaml.Node, key string, v S) {
	if len(v) == 0 {
		return
	}
	seq := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
	for _, s := range v {
		seq.Content = append(seq.Content, str(s))
	}
	put(m, key, seq)
}

func putTime(m *yaml.Node, key string, unix int64) {
	if unix == 0 {
		return
	}
	t := time.Unix(unix, 0).UTC()
	s := t.Format(time.RFC3339)
	if t.Equal(t.Truncate(24 * time.Hour)) {
		s = t.Format("2006-01-02")
	}
	put(m, key, str(s))
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
