// Package doctor checks a natsauth home, and running servers, against the
// practices the NATS JWT walkthrough recommends: least privilege (no `>`
// permissions), expiry on user JWTs, no bearer tokens, account limits,
// signing keys instead of identity keys, private seeds and creds, TLS, and
// a monitoring port kept on loopback.
//
// Every Finding names its severity, the object, why it matters and the
// command that fixes it. Nothing here changes the home except
// FixPermissions.
package doctor

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Severity ranks a finding.
type Severity int

// Severities, lowest first.
const (
	Info Severity = iota
	Low
	Medium
	High
)

var severityNames = [...]string{"info", "low", "medium", "high"}

func (s Severity) String() string {
	if s < Info || s > High {
		return fmt.Sprintf("severity(%d)", int(s))
	}
	return severityNames[s]
}

// MarshalJSON writes the severity's name.
func (s Severity) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// UnmarshalJSON reads a severity's name.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, err := ParseSeverity(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// ParseSeverity reads "info", "low", "medium" or "high".
func ParseSeverity(name string) (Severity, error) {
	for i, n := range severityNames {
		if strings.EqualFold(name, n) {
			return Severity(i), nil
		}
	}
	return 0, fmt.Errorf("unknown severity %q (use info, low, medium or high)", name)
}

// Finding is one departure from a recommended practice.
type Finding struct {
	Severity Severity `json:"severity"`
	// Check is a stable identifier of the check, e.g. "user-bearer".
	Check string `json:"check"`
	// Object is what the finding is about: "user MyAccount/alice",
	// "account MyAccount", "operator O", "file /path", "server nats://...".
	Object string `json:"object"`
	Why    string `json:"why"`
	// Fix is the command that fixes it.
	Fix string `json:"fix"`
}

// Checks, by identifier.
const (
	CheckFileMode            = "file-permissions"
	CheckDirMode             = "directory-permissions"
	CheckBearer              = "user-bearer"
	CheckPubAll              = "user-publish-all"
	CheckSubAll              = "user-subscribe-all"
	CheckUserNoExpiry        = "user-no-expiry"
	CheckExpiring            = "expiring-soon"
	CheckExpired             = "expired"
	CheckAccountNoLimits     = "account-no-limits"
	CheckAccountNoConnLimit  = "account-no-connection-limit"
	CheckAccountByOperatorID = "account-signed-by-operator-identity-key"
	CheckUserByAccountID     = "user-signed-by-account-identity-key"
	CheckOperatorSeed        = "operator-identity-seed-present"
	CheckNoRequireSK         = "operator-signing-keys-not-required"
	CheckRotation            = "rotation-in-progress"
	CheckServerTLS           = "server-without-tls"
	CheckServerAuth          = "server-without-authentication"
	CheckMonitorExposed      = "monitoring-beyond-loopback"
)

// Sort orders findings by severity (highest first), then check and object.
func Sort(fs []Finding) {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.Check != b.Check {
			return a.Check < b.Check
		}
		return a.Object < b.Object
	})
}

// Count returns how many findings there are of each severity.
func Count(fs []Finding) map[Severity]int {
	out := map[Severity]int{}
	for _, f := range fs {
		out[f.Severity]++
	}
	return out
}

// Worst returns the highest severity among fs, or -1 when there are none.
func Worst(fs []Finding) Severity {
	w := Severity(-1)
	for _, f := range fs {
		if f.Severity > w {
			w = f.Severity
		}
	}
	return w
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
