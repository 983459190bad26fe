package manage_test

import (
	"context"
	"slices"
	"testing"

	"github.com/natsauth/natsauth/authority"
)

// ReplaceAllInStores writes every account of the home, ReplaceInStores
// only the named ones.
func TestReplaceInStores(t *testing.T) {
	m := open(t, newHome(t))
	ctx := context.Background()
	for _, name := range []string{"A", "B"} {
		if _, _, err := m.AddAccount(ctx, name, authority.AccountEdit{}); err != nil {
			t.Fatal(err)
		}
	}
	accounts := func(t *testing.T, replace func() ([]string, error)) []string {
		t.Helper()
		got, err := replace()
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		return slices.Compact(got)
	}
	all := accounts(t, func() ([]string, error) {
		res, err := m.ReplaceAllInStores(ctx)
		var names []string
		for _, d := range res.Deliveries {
			names = append(names, d.Account)
		}
		return names, err
	})
	if want := []string{"A", "B", "SYS"}; !slices.Equal(all, want) {
		t.Errorf("all: wrote %v, want %v", all, want)
	}
	one := accounts(t, func() ([]string, error) {
		res, err := m.ReplaceInStores(ctx, "B")
		var names []string
		for _, d := range res.Deliveries {
			names = append(names, d.Account)
		}
		return names, err
	})
	if want := []string{"B"}; !slices.Equal(one, want) {
		t.Errorf("named: wrote %v, want %v", one, want)
	}
	if _, err := m.ReplaceInStores(ctx, "Nope"); err == nil {
		t.Error("replaced a missing account")
	}
}
