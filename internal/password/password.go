// Package password hashes secrets with argon2id, checks them in constant
// time and reads them from stdin. It is shared by natsauth's front doors
// that keep passwords of their own (the console, the auth-callout service).
//
// A hash is encoded in the PHC string format that other argon2id
// implementations read:
//
//	$argon2id$v=19$m=65536,t=2,p=1$<salt, base64 raw std>$<key, base64 raw std>
//
// The parameters travel with the hash, so they can be raised later without
// invalidating stored hashes (NeedsRehash says when one is older).
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// Default follows RFC 9106's second recommended option, with 64 MiB:
// about 50 ms on one core of a current machine.
var Default = Params{Memory: 64 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Fast is for tests only: it keeps the format and drops the cost.
var Fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// ErrMismatch means the secret does not match the hash.
var ErrMismatch = errors.New("password: does not match")

// ErrFormat means a stored hash is not an argon2id PHC string.
var ErrFormat = errors.New("password: not an argon2id hash")

// Hash hashes secret with p and a random salt.
func Hash(secret string, p Params) (string, error) {
	salt := make([]byte, p.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: salt: %w", err)
	}
	key := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// Verify reports nil when secret matches hash, ErrMismatch when it does
// not, ErrFormat when hash cannot be read.
func Verify(secret, hash string) error {
	p, salt, key, err := decode(hash)
	if err != nil {
		return err
	}
	got := argon2.IDKey([]byte(secret), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	if subtle.ConstantTimeCompare(got, key) != 1 {
		return ErrMismatch
	}
	return nil
}

// NeedsRehash reports whether hash was made with weaker parameters than p.
func NeedsRehash(hash string, p Params) bool {
	hp, _, _, err := decode(hash)
	return err != nil || hp.Memory < p.Memory || hp.Time < p.Time
}

func decode(hash string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, nil, nil, ErrFormat
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, nil, nil, ErrFormat
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil {
		return p, nil, nil, ErrFormat
	}
	if p.Memory == 0 || p.Time == 0 || p.Threads == 0 || p.Memory > 4<<20 || p.Time > 64 {
		return p, nil, nil, ErrFormat
	}
	enc := base64.RawStdEncoding
	if salt, err = enc.DecodeString(parts[4]); err != nil || len(salt) < 8 {
		return p, nil, nil, ErrFormat
	}
	if key, err = enc.DecodeString(parts[5]); err != nil || len(key) < 16 {
		return p, nil, nil, ErrFormat
	}
	return p, salt, key, nil
}
