package manage

import (
	"context"

	"github.com/natsauth/natsauth/doctor"
)

// DoctorStores opens the stores the home's servers read (ServingStores)
// for doctor to compare with the home; the Manager closes them.
func (m *Manager) DoctorStores(ctx context.Context) ([]doctor.Store, error) {
	serving, err := m.ServingStores(ctx)
	stores := make([]doctor.Store, len(serving))
	for i, s := range serving {
		stores[i] = doctor.Store{URL: s.URL, Store: s.Store}
	}
	return stores, err
}
