//go:build !unix

package access

// lockFile is a no-op where flock is missing: one process at a time.
func lockFile(string, bool) (func(), error) { return func() {}, nil }
