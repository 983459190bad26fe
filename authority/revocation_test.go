package authority

import (
	"errors"
	"testing"
	"time"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestRevokeAndUnrevoke(t *testing.T) {
	h := newHome(t)
	mustAccount(t, h, "A", AccountEdit{Conns: Int64(7)})
	u := mustUser(t, h, "A", "mallory", UserEdit{})
	other := mustUser(t, h, "A", "ok", UserEdit{})

	acc, err := h.RevokeUser("A", "mallory", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !acc.IsRevoked(u) {
		t.Errorf("mallory not revoked")
	}
	if acc.IsRevoked(other) {
		t.Errorf("another user revoked")
	}
	if acc.Claims.Limits.Conn != 7 {
		t.Errorf("revocation reset a limit: conn %d", acc.Claims.Limits.Conn)
	}
	if _, err := h.Policy().CheckAccount(acc.Pub, acc.JWT); err != nil {
		t.Errorf("revoked account JWT invalid: %v", err)
	}
	revs, err := h.Revocations("A")
	if err != nil {
		t.Fatal(err)
	}
	if len(revs) != 1 || revs[0].User != "mallory" || revs[0].Pub != u.Pub || revs[0].At.Unix() < u.Claims.IssuedAt {
		t.Errorf("Revocations = %+v", revs)
	}

	// A key of a user no longer in the home can be revoked too.
	if err := h.DeleteUser("A", "ok"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	if _, err := h.RevokeUser("A", other.Pub, at); err != nil {
		t.Fatal(err)
	}
	revs, _ = h.Revocations("A")
	if len(revs) != 2 || revs[0].User != "" || !revs[0].At.Equal(at) {
		t.Errorf("Revocations = %+v", revs)
	}

	acc, err = h.UnrevokeUser("A", "mallory")
	if err != nil {
		t.Fatal(err)
	}
	if acc.IsRevoked(u) {
		t.Errorf("mallory still revoked")
	}
	if _, err := h.UnrevokeUser("A", "mallory"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unrevoke twice = %v, want ErrNotFound", err)
	}
	for _, tc := range []struct{ acc, user string }{{"A", "ghost"}, {"Nope", "mallory"}} {
		before := testkit.TreeHash(t, h.Dir())
		if _, err := h.RevokeUser(tc.acc, tc.user, time.Time{}); !errors.Is(err, ErrNotFound) {
			t.Errorf("RevokeUser(%s, %s) = %v, want ErrNotFound", tc.acc, tc.user, err)
		}
		if testkit.TreeHash(t, h.Dir()) != before {
			t.Errorf("failed revocation changed the home")
		}
	}
}
