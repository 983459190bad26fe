package units

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
)

var sinceRe = regexp.MustCompile(`^(\d+)([smhdw])$`)

// maxSince is how far back ParseSince may reach.
const maxSince = 100 * 365 * 24 * time.Hour

// ParseSince reads a time to search from (natsauth audit --since): a
// duration back from now (30m, 24h, 7d, 2w, or any Go duration, at most
// 100 years), a date (yyyy-mm-dd, local time) or RFC 3339.
func ParseSince(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := sinceRe.FindStringSubmatch(s); m != nil {
		unit := map[string]time.Duration{"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour}[m[2]]
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > int64(maxSince/unit) {
			return time.Time{}, errors.New("too far back (100 years at most)")
		}
		return now.Add(-time.Duration(n) * unit), nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.ParseInLocation("2006-01-02", s, time.Local); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want a duration back from now (24h, 7d), yyyy-mm-dd or RFC 3339")
}

// ParseInstant reads a point in time such as a revocation's (natsauth
// revocations add-user --at): "0" or empty for now, unix seconds, or what
// ParseExpiry takes (yyyy-mm-dd, RFC 3339, or relative like -1h).
func ParseInstant(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return now, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC(), nil
	}
	return ParseExpiry(s, now)
}
