package authority

import (
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"time"
	"unicode"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// UserEdit sets a user's permissions and limits. Lists add entries; nil
// pointers leave a setting as it is, so an edit changes only what it names.
type UserEdit struct {
	AllowPub    []string // subjects the user may publish to
	AllowSub    []string // subjects (or "subject queue") the user may subscribe to
	AllowPubSub []string // added to both AllowPub and AllowSub
	DenyPub     []string
	DenySub     []string
	DenyPubSub  []string
	// Remove takes subjects out of every allow and deny list (edit only).
	Remove []string

	// RespMax allows publishing to reply subjects of received requests,
	// up to RespMax responses per request (-1 unlimited).
	RespMax *int
	// RespTTL limits how long after a request the response may be sent.
	RespTTL *time.Duration
	// RemoveResp drops the response permission (edit only).
	RemoveResp bool

	// Expires must be in the future and after the start; the zero time
	// means never.
	Expires *time.Time
	Start   *time.Time // the zero time means immediately
	Bearer  *bool      // bearer token: no nonce signature needed to connect

	Src        []string // source networks (CIDR, or a single IP) allowed to connect
	RemoveSrc  []string
	Tags       []string
	RemoveTags []string

	// Per-user limits (nsc's --subs, --data, --payload): -1 is unlimited.
	Subs    *int64 // subscriptions
	Data    *int64 // bytes in flight
	Payload *int64 // message payload, bytes

	// ConnTypes allows only these connection types (STANDARD, WEBSOCKET,
	// LEAFNODE, LEAFNODE_WS, MQTT, MQTT_WS, IN_PROCESS; any case). A user
	// with none may connect with any type. RemoveConnTypes takes some away.
	ConnTypes       []string
	RemoveConnTypes []string
	// Times adds connect-time windows "hh:mm:ss-hh:mm:ss" (nsc's --time):
	// outside every window the user cannot connect, and a connection open
	// when its window closes is closed. RemoveTimes removes windows by
	// their start "hh:mm:ss". Locale is the IANA time zone the windows are
	// read in ("" is the server's local time).
	Times       []string
	RemoveTimes []string
	Locale      *string
}

// perms returns the permission part of the edit.
func (e UserEdit) perms() PermissionEdit {
	return PermissionEdit{AllowPub: e.AllowPub, AllowSub: e.AllowSub, AllowPubSub: e.AllowPubSub,
		DenyPub: e.DenyPub, DenySub: e.DenySub, DenyPubSub: e.DenyPubSub, Remove: e.Remove,
		RespMax: e.RespMax, RespTTL: e.RespTTL, RemoveResp: e.RemoveResp}
}

// IsZero reports whether the edit changes nothing.
func (e UserEdit) IsZero() bool {
	return e.perms().IsZero() && len(e.Src)+len(e.RemoveSrc)+len(e.Tags)+len(e.RemoveTags) == 0 &&
		e.Expires == nil && e.Start == nil && e.Bearer == nil && e.limitsZero()
}

// Check reports every problem with the edit's own values (subjects,
// networks, tags, response permission, times) without looking at a home;
// AddUser and EditUser run the same checks and more.
func (e UserEdit) Check() error {
	p := newProblems("user permissions")
	e.check(p, nil, true)
	return p.err()
}

// Bool returns a pointer to v, for UserEdit.Bearer.
func Bool(v bool) *bool { return &v }

// userNorm holds the normalized values of a checked UserEdit.
type userNorm struct {
	src   []string        // source networks in CIDR form
	conns []string        // connection types, upper case
	times []jwt.TimeRange // connect-time windows
}

// check adds a problem for every invalid value. edit says whether a user
// is edited; cur is that user when it was found. It returns the normalized
// values apply needs.
func (e UserEdit) check(p *problems, cur *jwt.UserClaims, edit bool) userNorm {
	var curPerms *jwt.Permissions
	owner := ""
	if cur != nil {
		curPerms, owner = &cur.Permissions, "user "+cur.Name
	}
	e.perms().check(p, curPerms, owner)
	start, expires := int64(0), int64(0)
	if cur != nil {
		start, expires = cur.NotBefore, cur.Expires
	}
	if e.Start != nil {
		start = unixOrZero(*e.Start)
	}
	if e.Expires != nil {
		expires = unixOrZero(*e.Expires)
		checkNotPast(p, "expiry", *e.Expires)
	}
	if start != 0 && expires != 0 && expires <= start {
		p.add("expiry %s is not after start %s", time.Unix(expires, 0).UTC().Format(time.RFC3339),
			time.Unix(start, 0).UTC().Format(time.RFC3339))
	}
	var n userNorm
	for _, s := range e.Src {
		c, err := normalizeNetwork(s)
		if err != nil {
			p.add("source-network: %v", err)
			continue
		}
		n.src = append(n.src, c)
	}
	for _, t := range e.Tags {
		if err := checkTag(t); err != nil {
			p.add("tag: %v", err)
		}
	}
	n.conns, n.times = e.checkLimits(p, cur)
	if !edit && (e.perms().removes() || len(e.RemoveSrc) > 0 || len(e.RemoveTags) > 0 ||
		len(e.RemoveConnTypes) > 0 || len(e.RemoveTimes) > 0) {
		p.add("removing permissions, networks, tags, connection types or time windows applies only when editing a user")
	}
	if cur == nil {
		return n
	}
	for _, s := range e.RemoveSrc {
		c, err := normalizeNetwork(s)
		if err != nil {
			c = s
		}
		if !cur.Src.Contains(c) && !cur.Src.Contains(s) {
			p.add("rm-source-network: user %s has no source network %q", cur.Name, s)
		}
	}
	for _, t := range e.RemoveTags {
		if !cur.Tags.Contains(t) {
			p.add("rm-tag: user %s has no tag %q", cur.Name, t)
		}
	}
	return n
}

// checkNotPast refuses a time that is already over: a JWT born expired
// (nsc accepts `--expiry -5d`; natsauth does not).
func checkNotPast(p *problems, what string, t time.Time) {
	if !t.IsZero() && !t.After(time.Now()) {
		p.add("%s %s is in the past: give a future time, or 0 for never", what, t.UTC().Format(time.RFC3339))
	}
}

func unixOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// normalizeNetwork accepts a CIDR ("10.0.0.0/8") or a single address
// ("192.168.1.5", made a /32 or /128) and returns it in canonical CIDR form.
func normalizeNetwork(s string) (string, error) {
	in := strings.TrimSpace(s)
	if strings.Contains(in, "/") {
		_, n, err := net.ParseCIDR(in)
		if err != nil {
			return "", fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8", s)
		}
		return n.String(), nil
	}
	ip := net.ParseIP(in)
	if ip == nil {
		return "", fmt.Errorf("%q is not a CIDR network such as 10.0.0.0/8 or an IP address", s)
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String() + "/32", nil
	}
	return ip.String() + "/128", nil
}

func checkTag(t string) error {
	v := strings.TrimSpace(t)
	if v == "" {
		return fmt.Errorf("tag is empty")
	}
	if len(v) > 256 {
		return fmt.Errorf("tag %.20q... is longer than 256 bytes", v)
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return fmt.Errorf("tag %q contains whitespace or a control character", t)
		}
	}
	return nil
}

// apply writes the edit into uc, the way nsc does: additions, then
// removals, lists sorted.
func (e UserEdit) apply(uc *jwt.UserClaims, n userNorm) {
	e.perms().apply(&uc.Permissions)
	if e.Start != nil {
		uc.NotBefore = unixOrZero(*e.Start)
	}
	if e.Expires != nil {
		uc.Expires = unixOrZero(*e.Expires)
	}
	if e.Bearer != nil {
		uc.BearerToken = *e.Bearer
	}
	uc.Src.Add(n.src...)
	for _, s := range e.RemoveSrc {
		if c, err := normalizeNetwork(s); err == nil {
			uc.Src.Remove(c)
		}
		uc.Src.Remove(s)
	}
	uc.Tags.Add(e.Tags...)
	uc.Tags.Remove(e.RemoveTags...)
	sort.Strings(uc.Tags)
	e.applyLimits(&uc.UserPermissionLimits, n)
}

// checkUserClaims reports the blocking problems jwt finds in uc (time
// checks excepted: an expired user may be issued on purpose).
func checkUserClaims(p *problems, uc *jwt.UserClaims) {
	vr := jwt.CreateValidationResults()
	uc.Validate(vr)
	for _, is := range vr.Issues {
		if is.Blocking && !is.TimeCheck {
			p.add("%s", is.Description)
		}
	}
}

// AddUser creates a user of account, signed by the account's signing key
// (its identity key when it has none), and writes its seed and creds file.
func (h *Home) AddUser(account, name string, e UserEdit) (*UserInfo, error) {
	return h.AddUserWith(account, name, e, UserIssue{})
}

// EditUser applies e to a user and re-signs it (with the scoped signing
// key that signed it, else as AddUser signs); its creds file is rewritten
// when the user's seed is in the keystore.
func (h *Home) EditUser(account, name string, e UserEdit) (*UserInfo, error) {
	p := newProblems("edit user %s", name)
	if e.IsZero() {
		p.add("nothing to change: give a permission, limit or setting to change")
	}
	unlock, err := h.lock(true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var cur *UserInfo
	var signer nkeys.KeyPair
	var scope *jwt.UserScope
	if acc != nil {
		cur, err = h.readUser(acc, name)
		p.addErr(err)
		if cur != nil {
			signer, scope = h.userSigner(p, acc, "", cur.Claims)
			if scope != nil {
				checkScopedEdit(p, e, scope)
			}
		}
		if e.Bearer != nil && *e.Bearer && acc.Claims.Limits.DisallowBearer {
			p.add("account %s does not allow bearer tokens", acc.Name)
		}
	}
	var curClaims *jwt.UserClaims
	if cur != nil {
		curClaims = cur.Claims
	}
	src := e.check(p, curClaims, true)
	if err := p.err(); err != nil {
		return nil, err
	}
	uc, err := jwt.DecodeUserClaims(cur.JWT)
	if err != nil {
		return nil, fmt.Errorf("edit user %s: %w", name, err)
	}
	e.apply(uc, src)
	if scope != nil {
		uc.UserPermissionLimits = jwt.UserPermissionLimits{}
	}
	checkUserClaims(p, uc)
	if err := p.err(); err != nil {
		return nil, err
	}
	kp, err := h.readKey(cur.Pub)
	if err != nil {
		kp = nil // no seed: the JWT is re-signed, no creds file is written
	}
	var t txn
	info, err := h.stageUser(&t, acc, name, uc, signer, kp)
	if err != nil {
		return nil, fmt.Errorf("edit user %s: %w", name, err)
	}
	if err := t.commit(); err != nil {
		return nil, fmt.Errorf("edit user %s: %w", name, err)
	}
	return info, nil
}

// stageUser signs uc with signer (an account key: identity or signing
// key, which then names the account as issuer_account) and schedules
// writing the user JWT and, when kp is known, the creds file.
func (h *Home) stageUser(t *txn, acc *AccountInfo, name string, uc *jwt.UserClaims, signer, kp nkeys.KeyPair) (*UserInfo, error) {
	uc.IssuerAccount = ""
	if pubKey(signer) != acc.Pub {
		uc.IssuerAccount = acc.Pub
	}
	tok, err := uc.Encode(signer)
	if err != nil {
		return nil, fmt.Errorf("sign user: %w", err)
	}
	t.put(h.userJWTPath(acc.Name, name), []byte(tok))
	if kp != nil {
		creds, err := formatCreds(tok, kp)
		if err != nil {
			return nil, err
		}
		t.put(h.CredsPath(acc.Name, name), creds)
	}
	return &UserInfo{Account: acc.Name, AccountPub: acc.Pub, Name: name, Pub: uc.Subject, JWT: tok, Claims: uc}, nil
}

// DeleteUser removes a user's JWT, creds file and seed. A deleted user's
// JWT stays valid wherever it was copied; revoke it first (RevokeUser) to
// make servers refuse it.
func (h *Home) DeleteUser(account, name string) error {
	p := newProblems("delete user %s", name)
	unlock, err := h.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	acc, err := h.readAccount(account)
	p.addErr(err)
	var u *UserInfo
	if acc != nil {
		u, err = h.readUser(acc, name)
		p.addErr(err)
	}
	if err := p.err(); err != nil {
		return err
	}
	var t txn
	prunes := h.stageDeleteUser(&t, u)
	if err := t.commit(); err != nil {
		return fmt.Errorf("delete user %s: %w", name, err)
	}
	for _, d := range prunes {
		pruneDirs(d.dir, d.stop)
	}
	return nil
}

// stageDeleteUser schedules removing a user's files and returns the
// directories to prune afterwards.
func (h *Home) stageDeleteUser(t *txn, u *UserInfo) []prune {
	t.del(h.userJWTPath(u.Account, u.Name))
	t.del(h.CredsPath(u.Account, u.Name))
	out := []prune{{h.usersDir(u.Account), h.accountDir(u.Account)}}
	if nkeys.IsValidPublicUserKey(u.Pub) {
		t.del(h.keyPath(u.Pub))
		out = append(out, h.pruneKey(u.Pub))
	}
	return out
}

// Creds returns the creds file content (JWT and seed) of a user.
func (h *Home) Creds(account, user string) ([]byte, error) {
	u, err := h.User(account, user)
	if err != nil {
		return nil, fmt.Errorf("creds: %w", err)
	}
	kp, err := h.readKey(u.Pub)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("creds for user %s: the user was issued from its public key %s and its seed is not in this home; "+
			"whoever holds the seed makes the creds file from the user JWT (%s) and the seed: %w",
			user, u.Pub, h.userJWTPath(u.Account, u.Name), ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("creds for user %s: %w", user, err)
	}
	return formatCreds(u.JWT, kp)
}
