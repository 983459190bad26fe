package authority

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/units"
)

// AccountEdit changes an account: limits, JetStream, default permissions,
// signing keys and descriptive settings, with nsc's meanings. A nil field
// leaves that setting as it is, so editing one never resets another. For
// limits -1 means unlimited.
type AccountEdit struct {
	Conns     *int64 // max client connections
	LeafConns *int64 // max leaf node connections
	Data      *int64 // max data in flight, bytes
	Exports   *int64 // max exports
	Imports   *int64 // max imports
	Payload   *int64 // max message payload, bytes
	Subs      *int64 // max subscriptions

	// JetStream limits of the tier JSTier names (the global limits when
	// JSTier is nil or 0). JetStream is enabled for the account when a
	// tier has memory or disk storage; 0 disables, -1 is unlimited. The
	// first JetStream limit of a tier sets the others nsc's way: storage
	// 0, counts and stream sizes unlimited.
	JSMemStorage       *int64 // bytes
	JSDiskStorage      *int64 // bytes
	JSStreams          *int64
	JSConsumer         *int64
	JSMaxAckPending    *int64 // max acks pending per consumer
	JSMaxMemStream     *int64 // max bytes of one memory stream
	JSMaxDiskStream    *int64 // max bytes of one disk stream
	JSMaxBytesRequired *bool  // streams must set max bytes
	// JSTier picks the replication tier the JetStream fields apply to:
	// 0 global, 1 (R1) or 3 (R3). An account has global or tiered limits,
	// never both.
	JSTier *int
	// JSEnable enables a tier (0 global, 1, 3) with unlimited storage
	// (nsc --js-enable). It excludes every other JetStream field.
	JSEnable *int
	// JSDisable removes every JetStream limit (nsc --js-disable).
	JSDisable bool
	// RemoveJSTier removes one tier's limits (0 global; nsc --rm-js-tier).
	RemoveJSTier *int

	// AddSigningKeys adds account signing keys: an account public key
	// (its seed stays wherever it is), or "" to generate one whose seed
	// is kept in the keystore. New users are signed with a generated key.
	AddSigningKeys []string
	// RemoveSigningKeys removes signing keys by public key or by the role
	// of a scoped key, and deletes their seeds. A key that still signs
	// users of the home is refused (rotate it instead).
	RemoveSigningKeys []string

	// Expires must be in the future; the zero time means never. After it
	// servers refuse the account and close its connections.
	Expires *time.Time
	// Start must not be in the future: natsauth's stores and nats-server
	// refuse an account JWT that is not valid yet. The zero time clears it.
	Start *time.Time

	// DefaultPermissions edits the permissions nats-server gives every
	// user of the account that carries none of its own (nsc's --allow-pub,
	// --deny-sub, --rm, ... on add/edit account).
	DefaultPermissions PermissionEdit
	// DisallowBearer makes servers refuse bearer user JWTs of the account;
	// refused while users of the home are bearer users.
	DisallowBearer *bool
	// WildcardExports allows exports with wildcards (nsc's default true).
	WildcardExports *bool

	Description *string // at most jwt.MaxInfoLength bytes
	InfoURL     *string // an http(s) URL, or "" to clear
	Tags        []string
	RemoveTags  []string

	// TraceSubject is where servers send message traces of messages that
	// carry a W3C trace context ("" turns tracing off); TraceSampling is
	// the percentage traced, 1-100 (0 means 100). Sampling needs a subject.
	TraceSubject  *string
	TraceSampling *int
}

// AccountIssue says how AddAccountWith creates an account.
type AccountIssue struct {
	// PublicKey creates the account for an existing account public key
	// whose seed is held elsewhere (nsc's add account --public-key): no
	// seed is stored, so natsauth cannot sign its users with the identity
	// key; add a signing key (AddSigningKeys) to issue users here.
	PublicKey string
}

// Int64 returns a pointer to v, for the fields of AccountEdit.
func Int64(v int64) *int64 { return &v }

// Int returns a pointer to v, for JSTier, JSEnable, RemoveJSTier and
// TraceSampling.
func Int(v int) *int { return &v }

// String returns a pointer to v, for the string fields of the edits.
func String(v string) *string { return &v }

type limitField struct {
	name string
	v    *int64
	size bool // a byte size; otherwise a count
}

func (e AccountEdit) fields() []limitField {
	return []limitField{
		{"max-connections", e.Conns, false}, {"max-leafnodes", e.LeafConns, false}, {"max-data", e.Data, true},
		{"max-exports", e.Exports, false}, {"max-imports", e.Imports, false}, {"max-payload", e.Payload, true},
		{"max-subscriptions", e.Subs, false}, {"js-mem-storage", e.JSMemStorage, true},
		{"js-disk-storage", e.JSDiskStorage, true}, {"js-streams", e.JSStreams, false}, {"js-consumer", e.JSConsumer, false},
		{"js-max-ack-pending", e.JSMaxAckPending, false}, {"js-max-mem-stream", e.JSMaxMemStream, true},
		{"js-max-disk-stream", e.JSMaxDiskStream, true},
	}
}

// Changes describes each limit the edit sets, e.g. "max-payload 1MB", in
// the order of the flags.
func (e AccountEdit) Changes() []string {
	var out []string
	for _, f := range e.fields() {
		if f.v == nil {
			continue
		}
		shown := units.FormatCount(*f.v)
		if f.size {
			shown = units.FormatSize(*f.v)
		}
		out = append(out, f.name+" "+shown)
	}
	return out
}

// IsZero reports whether the edit changes nothing.
func (e AccountEdit) IsZero() bool {
	if len(e.AddSigningKeys)+len(e.RemoveSigningKeys)+len(e.Tags)+len(e.RemoveTags) > 0 {
		return false
	}
	return e.LimitsZero() && e.Expires == nil && e.Start == nil && e.DefaultPermissions.IsZero() &&
		e.DisallowBearer == nil && e.WildcardExports == nil && e.Description == nil && e.InfoURL == nil &&
		e.TraceSubject == nil && e.TraceSampling == nil
}

// LimitsZero reports whether the edit changes no limit (JetStream included).
func (e AccountEdit) LimitsZero() bool {
	for _, f := range e.fields() {
		if f.v != nil {
			return false
		}
	}
	return !e.setsJetStream() && e.JSEnable == nil && !e.JSDisable && e.RemoveJSTier == nil
}

// Check reports every invalid value of the edit without looking at a
// home; AddAccount and EditAccount run the same checks and more.
func (e AccountEdit) Check() error {
	p := newProblems("account settings")
	e.check(p)
	return p.err()
}

// setsJetStream reports whether the edit sets a JetStream limit of a tier.
func (e AccountEdit) setsJetStream() bool {
	return e.JSMemStorage != nil || e.JSDiskStorage != nil || e.JSStreams != nil || e.JSConsumer != nil ||
		e.JSMaxAckPending != nil || e.JSMaxMemStream != nil || e.JSMaxDiskStream != nil ||
		e.JSMaxBytesRequired != nil || e.JSTier != nil
}

func (e AccountEdit) tier() int {
	if e.JSTier == nil {
		return 0
	}
	return *e.JSTier
}

// tierLabel is how a JWT names a tier: "" for the global limits, else R<n>.
func tierLabel(t int) string {
	if t == 0 {
		return ""
	}
	return fmt.Sprintf("R%d", t)
}

func tierName(t int) string {
	if t == 0 {
		return "global"
	}
	return tierLabel(t)
}

func checkTier(p *problems, flag string, t *int) {
	if t != nil && *t != 0 && *t != 1 && *t != 3 {
		p.add("%s %d: nats-server has the JetStream tiers 1 (R1) and 3 (R3); 0 is the global limits", flag, *t)
	}
}

// check adds a problem for every invalid value.
func (e AccountEdit) check(p *problems) {
	for _, f := range e.fields() {
		if f.v != nil && *f.v < -1 {
			p.add("%s %d is invalid: use a value of 0 or more, or -1 for unlimited", f.name, *f.v)
		}
	}
	checkTier(p, "js-tier", e.JSTier)
	checkTier(p, "js-enable", e.JSEnable)
	checkTier(p, "rm-js-tier", e.RemoveJSTier)
	switch {
	case e.JSDisable && (e.setsJetStream() || e.JSEnable != nil || e.RemoveJSTier != nil):
		p.add("js-disable removes every JetStream limit and excludes the other JetStream settings")
	case e.JSEnable != nil && (e.setsJetStream() || e.RemoveJSTier != nil):
		p.add("js-enable excludes the other JetStream settings")
	case e.RemoveJSTier != nil && e.setsJetStream():
		p.add("rm-js-tier excludes the other JetStream settings")
	}
	seen := map[string]bool{}
	for _, k := range e.AddSigningKeys {
		switch {
		case strings.HasPrefix(k, "SA"):
			p.add("signing key: that is an account seed; give its public key, or generate one")
		case k != "" && !nkeys.IsValidPublicAccountKey(k):
			p.add("signing key %.60q is not an account public key (A...)", k)
		case k != "" && seen[k]:
			p.add("signing key %s is given twice", k)
		}
		seen[k] = true
	}
	if e.Expires != nil {
		checkNotPast(p, "expiry", *e.Expires)
	}
	if e.Start != nil && e.Start.After(time.Now()) {
		p.add("start %s is in the future: servers and natsauth's stores refuse an account JWT before its start, "+
			"so the account could not reach them; give a past time or 0", e.Start.UTC().Format(time.RFC3339))
	}
	e.DefaultPermissions.check(p, nil, "")
	if e.Description != nil && len(*e.Description) > jwt.MaxInfoLength {
		p.add("description is %d bytes, over the %d byte limit", len(*e.Description), jwt.MaxInfoLength)
	}
	if e.InfoURL != nil && *e.InfoURL != "" {
		if u, err := url.Parse(*e.InfoURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("info-url %.80q is not an http or https URL", *e.InfoURL)
		}
	}
	for _, t := range e.Tags {
		if err := checkTag(t); err != nil {
			p.add("tag: %v", err)
		}
	}
	if e.TraceSubject != nil && *e.TraceSubject != "" {
		if err := CheckSubject(*e.TraceSubject); err != nil {
			p.add("trace-context-subject: %v", err)
		} else if jwt.Subject(*e.TraceSubject).HasWildCards() {
			p.add("trace-context-subject %q has wildcards; traces are published to it", *e.TraceSubject)
		}
	}
	if e.TraceSampling != nil && (*e.TraceSampling < 0 || *e.TraceSampling > 100) {
		p.add("trace-context-sampling %d: give a percentage 1-100", *e.TraceSampling)
	}
	if e.TraceSampling != nil && e.TraceSubject != nil && *e.TraceSubject == "" {
		p.add("trace-context-sampling conflicts with turning tracing off (an empty trace-context-subject)")
	}
}

// checkAgainst adds problems that depend on the account being edited.
func (e AccountEdit) checkAgainst(p *problems, acc *AccountInfo, users []UserInfo) {
	ac := acc.Claims
	l := &ac.Limits
	if acc.System && (e.setsJetStream() || e.JSEnable != nil) {
		if e.JSEnable != nil || (e.JSMemStorage != nil && *e.JSMemStorage != 0) ||
			(e.JSDiskStorage != nil && *e.JSDiskStorage != 0) || e.JSTier != nil {
			p.add("the system account cannot have JetStream enabled")
		}
	}
	tiered := sortedKeys(l.JetStreamTieredLimits)
	globalSet := jsLimitsSet(&l.JetStreamLimits)
	if e.setsJetStream() || e.JSEnable != nil {
		t := e.tier()
		if e.JSEnable != nil {
			t = *e.JSEnable
		}
		switch {
		case t == 0 && len(tiered) > 0:
			p.add("account %s has tiered JetStream limits (%s): global limits are not allowed with them; "+
				"give js-tier 1 or 3, or remove the tiers first (rm-js-tier)", acc.Name, strings.Join(tiered, ", "))
		case t != 0 && globalSet:
			p.add("account %s has global JetStream limits: tier %s is not allowed with them; remove them first (rm-js-tier 0)",
				acc.Name, tierLabel(t))
		}
		if e.JSEnable != nil && jsLimitsSet(tierLimits(l, *e.JSEnable)) {
			p.add("js-enable: JetStream tier %s of account %s is already enabled", tierName(*e.JSEnable), acc.Name)
		}
	}
	if e.RemoveJSTier != nil {
		if t := *e.RemoveJSTier; t == 0 && !globalSet {
			p.add("rm-js-tier 0: account %s has no global JetStream limits", acc.Name)
		} else if _, ok := l.JetStreamTieredLimits[tierLabel(t)]; t != 0 && !ok {
			p.add("rm-js-tier %d: account %s has no JetStream tier %s", t, acc.Name, tierLabel(t))
		}
	}
	start, expires := ac.NotBefore, ac.Expires
	if e.Start != nil {
		start = unixOrZero(*e.Start)
	}
	if e.Expires != nil {
		expires = unixOrZero(*e.Expires)
	}
	if start != 0 && expires != 0 && expires <= start {
		p.add("expiry %s is not after start %s", unixTime(expires), unixTime(start))
	}
	e.DefaultPermissions.check(p, &ac.DefaultPermissions, "account "+acc.Name)
	if e.DisallowBearer != nil && *e.DisallowBearer {
		for _, u := range users {
			if u.Claims.BearerToken {
				p.add("disallow-bearer: user %s of account %s is a bearer user; edit it first (bearer off) or delete it",
					u.Name, acc.Name)
			}
		}
	}
	if e.WildcardExports != nil && !*e.WildcardExports {
		for _, x := range ac.Exports {
			if x.Subject.HasWildCards() {
				p.add("wildcard-exports false: account %s exports %q, which has wildcards; delete that export first",
					acc.Name, x.Subject)
			}
		}
	}
	for _, t := range e.RemoveTags {
		if !ac.Tags.Contains(t) {
			p.add("rm-tag: account %s has no tag %q", acc.Name, t)
		}
	}
	if e.TraceSampling != nil && (e.TraceSubject == nil || *e.TraceSubject == "") && (ac.Trace == nil || ac.Trace.Destination == "") {
		p.add("trace-context-sampling needs a trace-context-subject: account %s has none", acc.Name)
	}
}

func jsLimitsSet(l *jwt.JetStreamLimits) bool {
	return l.MemoryStorage != 0 || l.DiskStorage != 0 || l.Streams != 0 ||
		l.Consumer != 0 || l.MaxAckPending != 0 || l.MemoryMaxStreamBytes != 0 ||
		l.DiskMaxStreamBytes != 0 || l.MaxBytesRequired
}

// tierLimits returns a copy of a tier's limits (zero when it has none).
func tierLimits(l *jwt.OperatorLimits, t int) *jwt.JetStreamLimits {
	if t == 0 {
		c := l.JetStreamLimits
		return &c
	}
	c := l.JetStreamTieredLimits[tierLabel(t)]
	return &c
}

// apply writes the set fields into ac; the caller has checked them.
func (e AccountEdit) apply(ac *jwt.AccountClaims) {
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	l := &ac.Limits
	set(&l.Conn, e.Conns)
	set(&l.LeafNodeConn, e.LeafConns)
	set(&l.Data, e.Data)
	set(&l.Exports, e.Exports)
	set(&l.Imports, e.Imports)
	set(&l.Payload, e.Payload)
	set(&l.Subs, e.Subs)
	e.applyJetStream(l)
	if e.Start != nil {
		ac.NotBefore = unixOrZero(*e.Start)
	}
	if e.Expires != nil {
		ac.Expires = unixOrZero(*e.Expires)
	}
	e.DefaultPermissions.apply(&ac.DefaultPermissions)
	if e.DisallowBearer != nil {
		l.DisallowBearer = *e.DisallowBearer
	}
	if e.WildcardExports != nil {
		l.WildcardExports = *e.WildcardExports
	}
	if e.Description != nil {
		ac.Description = *e.Description
	}
	if e.InfoURL != nil {
		ac.InfoURL = *e.InfoURL
	}
	ac.Tags.Add(e.Tags...)
	ac.Tags.Remove(e.RemoveTags...)
	sort.Strings(ac.Tags)
	if e.TraceSubject != nil {
		if *e.TraceSubject == "" {
			ac.Trace = nil
		} else {
			// As nsc: a new subject starts a new trace setting.
			ac.Trace = &jwt.MsgTrace{Destination: jwt.Subject(*e.TraceSubject)}
		}
	}
	if e.TraceSampling != nil && ac.Trace != nil {
		ac.Trace.Sampling = *e.TraceSampling
	}
}

// applyJetStream writes the JetStream settings into l, as nsc's edit
// account does.
func (e AccountEdit) applyJetStream(l *jwt.OperatorLimits) {
	switch {
	case e.JSDisable:
		l.JetStreamLimits = jwt.JetStreamLimits{}
		l.JetStreamTieredLimits = nil
		return
	case e.RemoveJSTier != nil:
		if *e.RemoveJSTier == 0 {
			l.JetStreamLimits = jwt.JetStreamLimits{}
		} else {
			delete(l.JetStreamTieredLimits, tierLabel(*e.RemoveJSTier))
		}
		return
	case e.JSEnable != nil:
		e.putTier(l, *e.JSEnable, jwt.JetStreamLimits{MemoryStorage: -1, DiskStorage: -1})
		return
	case !e.setsJetStream():
		return
	}
	t := e.tier()
	js := tierLimits(l, t)
	if !jsLimitsSet(js) {
		// First JetStream limits of the tier: what nsc writes for the
		// limits not given (unlimited).
		js.Streams, js.Consumer, js.MaxAckPending = -1, -1, -1
		js.MemoryMaxStreamBytes, js.DiskMaxStreamBytes = -1, -1
	}
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&js.MemoryStorage, e.JSMemStorage)
	set(&js.DiskStorage, e.JSDiskStorage)
	set(&js.Streams, e.JSStreams)
	set(&js.Consumer, e.JSConsumer)
	set(&js.MaxAckPending, e.JSMaxAckPending)
	set(&js.MemoryMaxStreamBytes, e.JSMaxMemStream)
	set(&js.DiskMaxStreamBytes, e.JSMaxDiskStream)
	if e.JSMaxBytesRequired != nil {
		js.MaxBytesRequired = *e.JSMaxBytesRequired
	}
	e.putTier(l, t, *js)
}

func (e AccountEdit) putTier(l *jwt.OperatorLimits, t int, js jwt.JetStreamLimits) {
	if t == 0 {
		l.JetStreamLimits = js
		return
	}
	if l.JetStreamTieredLimits == nil {
		l.JetStreamTieredLimits = jwt.JetStreamTieredLimits{}
	}
	l.JetStreamTieredLimits[tierLabel(t)] = js
}
