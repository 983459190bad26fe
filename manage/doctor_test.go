package manage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/doctor"
)

// DoctorStores hands doctor the primary store, which holds what the home
// published, so a store that lost an account is found.
func TestDoctorStores(t *testing.T) {
	cfg := newHome(t)
	m := open(t, cfg)
	ctx := context.Background()
	acc, _, err := m.AddAccount(ctx, "A", authority.AccountEdit{})
	if err != nil {
		t.Fatal(err)
	}
	stores, err := m.DoctorStores(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(stores) != 1 || !strings.HasPrefix(stores[0].URL, "sqlite://") {
		t.Fatalf("stores: got %+v, want the home's sqlite store", stores)
	}
	if _, err := stores[0].Store.Get(ctx, acc.Pub); err != nil {
		t.Errorf("the store lacks account A: %v", err)
	}
	fs, err := doctor.CheckStores(ctx, m.Home(), stores, doctor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Severity == doctor.High {
			t.Errorf("unexpected finding %+v", f)
		}
	}
}
