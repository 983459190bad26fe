package authority

import (
	"path/filepath"
	"testing"
)

// newHome initializes a home in a temporary directory.
func newHome(t testing.TB) *Home {
	t.Helper()
	h, err := Init(filepath.Join(t.TempDir(), "home"), "TestOp")
	if err != nil {
		t.Fatalf("Init: %v", err)
	}
	return h
}

// mustAccount adds an account or fails the test.
func mustAccount(t testing.TB, h *Home, name string, e AccountEdit) *AccountInfo {
	t.Helper()
	a, err := h.AddAccount(name, e)
	if err != nil {
		t.Fatalf("AddAccount(%s): %v", name, err)
	}
	return a
}

// mustUser adds a user or fails the test.
func mustUser(t testing.TB, h *Home, account, name string, e UserEdit) *UserInfo {
	t.Helper()
	u, err := h.AddUser(account, name, e)
	if err != nil {
		t.Fatalf("AddUser(%s, %s): %v", account, name, err)
	}
	return u
}
