package authority

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
)

// connTypes are the connection types a user JWT may allow, as nsc and
// nats-server spell them.
var connTypes = []string{
	jwt.ConnectionTypeStandard, jwt.ConnectionTypeWebsocket, jwt.ConnectionTypeLeafnode,
	jwt.ConnectionTypeLeafnodeWS, jwt.ConnectionTypeMqtt, jwt.ConnectionTypeMqttWS, jwt.ConnectionTypeInProcess,
}

// timeLayout is the form of a connect-time window bound (nsc's --time).
const timeLayout = "15:04:05"

// limitsZero reports whether the edit changes no per-user limit,
// connection type or time window.
func (e UserEdit) limitsZero() bool {
	return e.Subs == nil && e.Data == nil && e.Payload == nil && e.Locale == nil &&
		len(e.ConnTypes)+len(e.RemoveConnTypes)+len(e.Times)+len(e.RemoveTimes) == 0
}

// ParseTimeRange reads a connect-time window "hh:mm:ss-hh:mm:ss" as nsc's
// --time takes it. The end may be before the start: the window then spans
// midnight, as nats-server reads it.
func ParseTimeRange(s string) (jwt.TimeRange, error) {
	start, end, ok := strings.Cut(strings.TrimSpace(s), "-")
	if !ok || strings.Contains(end, "-") {
		return jwt.TimeRange{}, fmt.Errorf("time window %q is not of the form hh:mm:ss-hh:mm:ss", s)
	}
	if _, err := time.Parse(timeLayout, start); err != nil {
		return jwt.TimeRange{}, fmt.Errorf("time window %q: start %q is not hh:mm:ss", s, start)
	}
	if _, err := time.Parse(timeLayout, end); err != nil {
		return jwt.TimeRange{}, fmt.Errorf("time window %q: end %q is not hh:mm:ss", s, end)
	}
	if start == end {
		return jwt.TimeRange{}, fmt.Errorf("time window %q is empty: start and end are the same", s)
	}
	return jwt.TimeRange{Start: start, End: end}, nil
}

// checkLimits adds the problems of the per-user limits, connection types
// and time windows, and returns the normalized connection types and
// windows to add. cur is the user being edited, or nil.
func (e UserEdit) checkLimits(p *problems, cur *jwt.UserClaims) ([]string, []jwt.TimeRange) {
	for _, f := range []limitField{{"subs", e.Subs, false}, {"data", e.Data, true}, {"payload", e.Payload, true}} {
		if f.v != nil && *f.v < -1 {
			p.add("%s %d is invalid: use a value of 0 or more, or -1 for unlimited", f.name, *f.v)
		}
	}
	norm := func(flag string, in []string) []string {
		var out []string
		for _, c := range in {
			u := strings.ToUpper(strings.TrimSpace(c))
			if !contains(connTypes, u) {
				p.add("%s: unknown connection type %q (use %s)", flag, c, strings.Join(connTypes, ", "))
				continue
			}
			out = append(out, u)
		}
		return out
	}
	conns := norm("conn-type", e.ConnTypes)
	rmConns := norm("rm-conn-type", e.RemoveConnTypes)
	var times []jwt.TimeRange
	for _, s := range e.Times {
		tr, err := ParseTimeRange(s)
		if err != nil {
			p.add("time: %v", err)
			continue
		}
		times = append(times, tr)
	}
	if e.Locale != nil && *e.Locale != "" {
		if _, err := time.LoadLocation(*e.Locale); err != nil {
			p.add("locale %q is not an IANA time zone such as Europe/Berlin or UTC", *e.Locale)
		}
	}
	for _, s := range e.RemoveTimes {
		if _, err := time.Parse(timeLayout, s); err != nil {
			p.add("rm-time %q: give the start of a window as hh:mm:ss", s)
		}
	}
	if cur == nil {
		return conns, times
	}
	for i, c := range rmConns {
		if !cur.AllowedConnectionTypes.Contains(c) {
			p.add("rm-conn-type: user %s does not list connection type %q", cur.Name, e.RemoveConnTypes[i])
		}
	}
	for _, s := range e.RemoveTimes {
		found := false
		for _, tr := range cur.Times {
			found = found || tr.Start == s
		}
		if !found {
			p.add("rm-time: user %s has no time window starting at %q", cur.Name, s)
		}
	}
	return conns, times
}

// applyLimits writes the per-user limits, connection types and windows.
func (e UserEdit) applyLimits(l *jwt.UserPermissionLimits, n userNorm) {
	set := func(dst *int64, v *int64) {
		if v != nil {
			*dst = *v
		}
	}
	set(&l.Limits.Subs, e.Subs)
	set(&l.Limits.Data, e.Data)
	set(&l.Limits.Payload, e.Payload)
	l.AllowedConnectionTypes.Add(n.conns...)
	for _, c := range e.RemoveConnTypes {
		l.AllowedConnectionTypes.Remove(strings.ToUpper(strings.TrimSpace(c)))
	}
	if len(l.AllowedConnectionTypes) == 0 {
		l.AllowedConnectionTypes = nil
	}
	sort.Strings(l.AllowedConnectionTypes)
	for _, tr := range n.times {
		dup := false
		for _, have := range l.Times {
			dup = dup || have == tr
		}
		if !dup {
			l.Times = append(l.Times, tr)
		}
	}
	for _, s := range e.RemoveTimes {
		kept := l.Times[:0]
		for _, tr := range l.Times {
			if tr.Start != s {
				kept = append(kept, tr)
			}
		}
		l.Times = kept
	}
	if len(l.Times) == 0 {
		l.Times = nil
	}
	if e.Locale != nil {
		l.Locale = *e.Locale
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
