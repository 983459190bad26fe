package manage_test

import (
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/manage"
)

func TestPickAccount(t *testing.T) {
	m := open(t, newHome(t))
	h := m.Home()
	if _, err := manage.PickAccount(h, ""); err == nil || !strings.Contains(err.Error(), "there is no account yet") {
		t.Errorf("no account: err = %v", err)
	}
	if got, err := manage.PickAccount(h, "Named"); err != nil || got != "Named" {
		t.Errorf("a named account: %q, %v", got, err)
	}
	for _, n := range []string{"A", "B"} {
		if _, _, err := m.AddAccount(t.Context(), n, authority.AccountEdit{}); err != nil {
			t.Fatal(err)
		}
		got, err := manage.PickAccount(m.Home(), "")
		switch n {
		case "A":
			if err != nil || got != "A" {
				t.Errorf("the only account: %q, %v", got, err)
			}
		case "B":
			if err == nil || !strings.Contains(err.Error(), "there are 2 accounts (A, B): choose one with -a ACCOUNT") {
				t.Errorf("two accounts: err = %v", err)
			}
		}
	}
}
