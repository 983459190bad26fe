package authority

import (
	"sort"
	"time"

	"github.com/nats-io/jwt/v2"
)

// PermissionEdit changes a set of publish/subscribe permissions: a user's,
// a signing key template's, or an account's default permissions (which
// nats-server gives every user of the account that has none of its own).
// Lists add entries; nil pointers leave a setting as it is.
type PermissionEdit struct {
	AllowPub    []string // subjects that may be published to
	AllowSub    []string // subjects (or "subject queue") that may be subscribed to
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
}

// IsZero reports whether the edit changes nothing.
func (e PermissionEdit) IsZero() bool {
	return len(e.AllowPub)+len(e.AllowSub)+len(e.AllowPubSub)+len(e.DenyPub)+len(e.DenySub)+
		len(e.DenyPubSub)+len(e.Remove) == 0 && e.RespMax == nil && e.RespTTL == nil && !e.RemoveResp
}

// removes reports whether the edit removes anything.
func (e PermissionEdit) removes() bool { return len(e.Remove) > 0 || e.RemoveResp }

// check adds a problem for every invalid value. cur is the current
// permission set (nil when there is none yet, e.g. a new user) and owner
// names it in messages ("user bob", "account A").
func (e PermissionEdit) check(p *problems, cur *jwt.Permissions, owner string) {
	for _, l := range []struct {
		name  string
		subs  []string
		queue bool
	}{
		{"allow-pub", e.AllowPub, false}, {"allow-sub", e.AllowSub, true},
		{"allow-pubsub", e.AllowPubSub, false}, {"deny-pub", e.DenyPub, false},
		{"deny-sub", e.DenySub, true}, {"deny-pubsub", e.DenyPubSub, false},
	} {
		for _, s := range l.subs {
			if err := checkPermissionSubject(s, l.queue); err != nil {
				p.add("%s: %v", l.name, err)
			}
		}
	}
	if e.RespMax != nil && *e.RespMax < 1 && *e.RespMax != -1 {
		p.add("allow-pub-response %d is invalid: give the number of responses allowed per request (1 or more, -1 for unlimited)", *e.RespMax)
	}
	if e.RespTTL != nil && *e.RespTTL < 0 {
		p.add("response-ttl %v is negative", *e.RespTTL)
	}
	if e.RemoveResp && (e.RespMax != nil || e.RespTTL != nil) {
		p.add("removing the response permission conflicts with setting allow-pub-response or response-ttl")
	}
	if cur == nil {
		return
	}
	for _, s := range e.Remove {
		if !cur.Pub.Allow.Contains(s) && !cur.Pub.Deny.Contains(s) &&
			!cur.Sub.Allow.Contains(s) && !cur.Sub.Deny.Contains(s) {
			p.add("rm: %s has no permission %q", owner, s)
		}
	}
	if e.RemoveResp && cur.Resp == nil {
		p.add("rm-response-perms: %s has no response permission", owner)
	}
}

// apply writes the edit into perms the way nsc does: additions, then
// removals, lists sorted.
func (e PermissionEdit) apply(perms *jwt.Permissions) {
	if e.RemoveResp {
		perms.Resp = nil
	}
	if e.RespMax != nil {
		if perms.Resp == nil {
			perms.Resp = &jwt.ResponsePermission{}
		}
		perms.Resp.MaxMsgs = *e.RespMax
	}
	if e.RespTTL != nil {
		if perms.Resp == nil {
			perms.Resp = &jwt.ResponsePermission{}
		}
		perms.Resp.Expires = *e.RespTTL
	}
	perms.Pub.Allow.Add(e.AllowPub...)
	perms.Pub.Allow.Add(e.AllowPubSub...)
	perms.Pub.Deny.Add(e.DenyPub...)
	perms.Pub.Deny.Add(e.DenyPubSub...)
	perms.Sub.Allow.Add(e.AllowSub...)
	perms.Sub.Allow.Add(e.AllowPubSub...)
	perms.Sub.Deny.Add(e.DenySub...)
	perms.Sub.Deny.Add(e.DenyPubSub...)
	for _, l := range []*jwt.StringList{&perms.Pub.Allow, &perms.Pub.Deny, &perms.Sub.Allow, &perms.Sub.Deny} {
		l.Remove(e.Remove...)
		if len(*l) == 0 {
			*l = nil
		}
		sort.Strings(*l)
	}
}
