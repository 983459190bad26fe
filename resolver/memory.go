package resolver

import (
	"fmt"
	"sort"
	"sync"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/natsauth/natsauth/store"
)

// MemoryResolver keeps account JWTs in a map: the walkthrough's memory
// resolver. It stores what it is given without checking it; nats-server
// verifies the signature and issuer of every JWT it fetches, so a JWT not
// signed by a trusted operator never admits anyone. Use Resolver over a
// store for validated writes, caching and live updates.
type MemoryResolver struct {
	mu       sync.RWMutex
	accounts map[string]string // account public key -> JWT
}

var _ server.AccountResolver = (*MemoryResolver)(nil)

// NewMemoryResolver returns an empty MemoryResolver.
func NewMemoryResolver() *MemoryResolver {
	return &MemoryResolver{accounts: map[string]string{}}
}

// Fetch returns the JWT stored for name, or an error wrapping
// store.ErrNotFound.
func (m *MemoryResolver) Fetch(name string) (string, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	tok, ok := m.accounts[name]
	if !ok {
		return "", fmt.Errorf("fetch account %q: %w", name, store.ErrNotFound)
	}
	return tok, nil
}

// Store keeps jwt as the JWT of account name, replacing any earlier one.
func (m *MemoryResolver) Store(name, jwt string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.accounts[name] = jwt
	return nil
}

// Delete forgets account name. Deleting an unknown account is not an error.
func (m *MemoryResolver) Delete(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.accounts, name)
	return nil
}

// List returns every stored account key, sorted.
func (m *MemoryResolver) List() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	keys := make([]string, 0, len(m.accounts))
	for k := range m.accounts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// IsReadOnly reports false: nats-server may Store preloaded accounts.
func (m *MemoryResolver) IsReadOnly() bool { return false }

// Start does nothing; MemoryResolver has no background work.
func (m *MemoryResolver) Start(*server.Server) error { return nil }

// IsTrackingUpdate reports false: nats-server itself applies claim updates
// pushed over the system account to loaded accounts (without storing them
// here).
func (m *MemoryResolver) IsTrackingUpdate() bool { return false }

// Reload does nothing.
func (m *MemoryResolver) Reload() error { return nil }

// Close does nothing; the JWTs stay available.
func (m *MemoryResolver) Close() {}
