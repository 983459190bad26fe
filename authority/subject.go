package authority

import (
	"fmt"
	"strings"
	"unicode"
)

// maxSubjectLen bounds a permission subject; nats-server's control line
// is 4 KiB.
const maxSubjectLen = 4096

// CheckSubject reports whether s is a valid subject for a permission:
// non-empty '.'-separated tokens without whitespace or control characters,
// where '*' matches one token and '>' (last token only) the rest.
func CheckSubject(s string) error {
	if s == "" {
		return fmt.Errorf("subject is empty")
	}
	if len(s) > maxSubjectLen {
		return fmt.Errorf("subject %.40q... is longer than %d bytes", s, maxSubjectLen)
	}
	for _, r := range s {
		if unicode.IsSpace(r) {
			return fmt.Errorf("subject %q contains whitespace", s)
		}
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return fmt.Errorf("subject %q contains a control or invalid character", s)
		}
	}
	tokens := strings.Split(s, ".")
	for i, tok := range tokens {
		switch {
		case tok == "":
			return fmt.Errorf("subject %q has an empty token (a leading, trailing or doubled '.')", s)
		case tok == ">" && i != len(tokens)-1:
			return fmt.Errorf("subject %q has '>' before its last token; '>' may only end a subject", s)
		}
	}
	return nil
}

// checkPermissionSubject validates one permission entry. Subscribe
// permissions may name a queue group after one space: "subject queue".
func checkPermissionSubject(s string, allowQueue bool) error {
	if allowQueue {
		if subj, queue, ok := strings.Cut(s, " "); ok {
			if err := CheckSubject(subj); err != nil {
				return err
			}
			if err := CheckSubject(queue); err != nil {
				return fmt.Errorf("queue group in %q: %w", s, err)
			}
			return nil
		}
	} else if strings.Contains(s, " ") && CheckSubject(strings.ReplaceAll(s, " ", ".")) == nil {
		return fmt.Errorf("publish subject %q contains a space (a queue group applies to subscriptions only)", s)
	}
	return CheckSubject(s)
}
