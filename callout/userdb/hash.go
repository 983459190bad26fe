package userdb

import (
	"errors"

	"github.com/natsauth/natsauth/internal/password"
)

// Params are argon2id's cost parameters (internal/password, shared with
// the console). A hash records the parameters it was made with, so
// changing them affects new and changed passwords only.
type Params = password.Params

// DefaultParams are OWASP's recommended minimum for argon2id (19 MiB of
// memory, 2 passes, 1 thread): about 20 ms on one core of a 2020s server.
// Sign-ins pay it on every connect not answered from the gateway's cache,
// so it is lower than the console's.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

var errBadHash = password.ErrFormat

// hashPassword derives an argon2id hash of pw in the PHC string format.
func hashPassword(pw string, p Params) (string, error) { return password.Hash(pw, p) }

// checkPassword reports whether pw matches the PHC-encoded argon2id hash,
// in time independent of where they differ.
func checkPassword(encoded, pw string) (bool, error) {
	err := password.Verify(pw, encoded)
	if errors.Is(err, password.ErrMismatch) {
		return false, nil
	}
	return err == nil, err
}
