package units

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// maxYear bounds expiry and start times so that they stay representable
// in every system that reads a JWT.
const maxYear = 9999

// ParseExpiry parses an nsc expiry or start time relative to now:
//
//   - "0" (or "") means no time: never expires / valid from the start;
//     the result is the zero time.
//   - "yyyy-mm-dd" is midnight UTC of that day; "2006-01-02 15:04:05 UTC"
//     and RFC 3339 ("2006-01-02T15:04:05Z") are exact times.
//   - "<n><unit>" is now plus n units, where the unit is as in nsc:
//     m = minutes, h = hours, d = days, w = weeks, M = months, y = years.
//     natsauth also accepts s = seconds. Note that m is minutes and M is
//     months. n may be negative ("-1d" is a day ago).
//
// The result must lie between 1970-01-01 and the year 9999.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	in := strings.TrimSpace(s)
	if in == "" || in == "0" {
		return time.Time{}, nil
	}
	if len(in) > maxInput {
		return time.Time{}, fmt.Errorf("%w: time %.20q... is too long", ErrSyntax, in)
	}
	for _, layout := range []string{"2006-01-02", "2006-01-02 15:04:05 UTC", time.RFC3339} {
		if t, err := time.Parse(layout, in); err == nil {
			return checkRange(s, t.UTC())
		}
	}
	if len(in) >= 10 && in[4] == '-' && in[7] == '-' {
		return time.Time{}, fmt.Errorf("%w: time %q is not a valid date (yyyy-mm-dd)", ErrSyntax, s)
	}
	unit := in[len(in)-1]
	num := in[:len(in)-1]
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num == "" || num[0] == '+' {
		return time.Time{}, fmt.Errorf("%w: time %q is not 0, yyyy-mm-dd or a number followed by "+
			"m(inutes), h(ours), d(ays), w(eeks), M(onths) or y(ears)", ErrSyntax, s)
	}
	if n == 0 {
		return time.Time{}, nil
	}
	// Bound n so that no arithmetic below can overflow; checkRange then
	// rejects anything outside the representable years.
	const maxSeconds = int64(maxYear+1) * 366 * 24 * 3600
	var secs int64
	switch unit {
	case 's':
		secs = 1
	case 'm':
		secs = 60
	case 'h':
		secs = 3600
	case 'd', 'w', 'M', 'y':
	default:
		return time.Time{}, fmt.Errorf("%w: time %q has an unknown unit %q "+
			"(m = minutes, h = hours, d = days, w = weeks, M = months, y = years)", ErrSyntax, s, string(unit))
	}
	if secs > 0 {
		if n > maxSeconds/secs || n < -maxSeconds/secs {
			return time.Time{}, fmt.Errorf("%w: time %q is out of range", ErrSyntax, s)
		}
		return checkRange(s, time.Unix(now.Unix()+n*secs, 0).UTC())
	}
	const maxDays = int64(maxYear+1) * 366
	days := map[byte]int64{'d': 1, 'w': 7, 'M': 31, 'y': 366}[unit]
	if n > maxDays/days || n < -maxDays/days {
		return time.Time{}, fmt.Errorf("%w: time %q is out of range", ErrSyntax, s)
	}
	c := int(n)
	var t time.Time
	switch unit {
	case 'd':
		t = now.AddDate(0, 0, c)
	case 'w':
		t = now.AddDate(0, 0, 7*c)
	case 'M':
		t = now.AddDate(0, c, 0)
	case 'y':
		t = now.AddDate(c, 0, 0)
	}
	return checkRange(s, t.Truncate(time.Second).UTC())
}

func checkRange(s string, t time.Time) (time.Time, error) {
	if t.Unix() < 0 || t.Year() > maxYear {
		return time.Time{}, fmt.Errorf("%w: time %q is outside 1970-01-01 .. %d-12-31", ErrSyntax, s, maxYear)
	}
	return t, nil
}

// ParseTTL parses a response TTL such as "5s", "250ms" or "2m" (Go
// duration syntax, as nsc's --response-ttl). It must not be negative.
func ParseTTL(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if len(in) > maxInput {
		return 0, fmt.Errorf("%w: duration %.20q... is too long", ErrSyntax, in)
	}
	d, err := time.ParseDuration(in)
	if err != nil {
		return 0, fmt.Errorf("%w: duration %q: use a number with a unit such as 500ms, 5s, 2m or 1h", ErrSyntax, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%w: duration %q is negative", ErrSyntax, s)
	}
	return d, nil
}

// FormatTime renders a JWT time (unix seconds) for people: "never" for 0
// when it is an expiry, otherwise "2006-01-02 15:04:05 UTC".
func FormatTime(unix int64, zero string) string {
	if unix == 0 {
		return zero
	}
	return time.Unix(unix, 0).UTC().Format("2006-01-02 15:04:05 UTC")
}
