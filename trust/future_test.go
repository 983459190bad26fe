package trust_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/testkit"
	"github.com/natsauth/natsauth/trust"
)

// An account JWT issued in the future (beyond the allowed clock skew) is
// refused: stored, it would make every later write of the account stale.
func TestCheckAccountRefusesJWTsFromTheFuture(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	now := time.Now()
	year3000 := time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	for _, tc := range []struct {
		name   string
		policy *trust.Policy
		iat    int64
		ok     bool
	}{
		{"now", op.Policy(), now.Unix(), true},
		{"within the default skew", op.Policy(), now.Add(trust.DefaultClockSkew - 10*time.Second).Unix(), true},
		{"just past the default skew", op.Policy(), now.Add(trust.DefaultClockSkew + 10*time.Second).Unix(), false},
		{"year 3000", op.Policy(), year3000, false},
		{"an hour ahead, skew of two hours", op.Policy().WithClockSkew(2 * time.Hour), now.Add(time.Hour).Unix(), true},
		{"an hour ahead, skew of a minute", op.Policy().WithClockSkew(time.Minute), now.Add(time.Hour).Unix(), false},
		{"year 3000, clock check off", op.Policy().WithClockSkew(trust.NoClockCheck), year3000, true},
		{"an hour ahead of a clock an hour fast", op.Policy().WithClock(func() time.Time { return now.Add(time.Hour) }), now.Add(time.Hour).Unix(), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := acc.Reissue(t, tc.iat, nil)
			ac, err := tc.policy.CheckAccount(acc.Pub, token)
			if tc.ok {
				if err != nil || ac == nil {
					t.Fatalf("CheckAccount = %v, want accepted", err)
				}
				return
			}
			var verr *trust.ValidationError
			if !errors.As(err, &verr) || !errors.Is(err, trust.ErrInvalid) {
				t.Fatalf("CheckAccount = %v, want a ValidationError wrapping ErrInvalid", err)
			}
			if len(verr.Problems) != 1 || !strings.Contains(verr.Problems[0], "in the future") {
				t.Errorf("problems = %q, want one saying the jwt is from the future", verr.Problems)
			}
		})
	}
	if got := op.Policy().ClockSkew(); got != trust.DefaultClockSkew {
		t.Errorf("default ClockSkew = %s, want %s", got, trust.DefaultClockSkew)
	}
	// WithClockSkew returns a copy: the original keeps its skew.
	p := op.Policy()
	_ = p.WithClockSkew(trust.NoClockCheck)
	if _, err := p.CheckAccount(acc.Pub, acc.Reissue(t, year3000, nil)); err == nil {
		t.Error("WithClockSkew changed the policy it was called on")
	}
}
