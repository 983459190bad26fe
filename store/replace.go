package store

import (
	"context"
	"fmt"
)

// Replace stores token as the JWT of account even when the stored one is
// newer (by iat): the deliberate way out for an account whose stored JWT
// blocks every later write, such as one issued in the far future. token is
// validated as any write is (trusted issuer, subject, not issued beyond the
// clock skew), the replace is audited, and watchers see it as a put. Only
// an explicit operator action should call it (`natsauth store replace`);
// every other write path keeps the newer-only rule.
//
// s must be a Store made by Open or Wrap over a backend that implements
// Replacer; others fail with ErrReplaceUnsupported.
func Replace(ctx context.Context, s Store, account, token string) (Change, error) {
	r, ok := s.(interface {
		Replace(ctx context.Context, account, token string) (Change, error)
	})
	if !ok {
		return Unchanged, fmt.Errorf("replace account %s: %w", account, ErrReplaceUnsupported)
	}
	return r.Replace(ctx, account, token)
}
