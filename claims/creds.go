package claims

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
)

// Creds is a parsed creds file: a user JWT and its seed.
type Creds struct {
	jwt  string
	kp   nkeys.KeyPair
	mode os.FileMode
}

// Mode is the file's permission bits.
func (c *Creds) Mode() os.FileMode { return c.mode }

// Loose reports whether the file is readable by group or others.
func (c *Creds) Loose() bool { return c.mode&0o077 != 0 }

// Option authenticates a nats.go connection with the creds.
func (c *Creds) Option() nats.Option {
	return nats.UserJWT(
		func() (string, error) { return c.jwt, nil },
		func(nonce []byte) ([]byte, error) { return c.kp.Sign(nonce) },
	)
}

// maxCredsSize bounds a creds file read (real ones are under 4 KiB).
const maxCredsSize = 1 << 20

// LoadCreds reads and checks a creds file.
func LoadCreds(path string) (*Creds, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("creds file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("creds file: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(fh, maxCredsSize+1))
	if err != nil {
		return nil, fmt.Errorf("creds file %s: %w", path, err)
	}
	c, err := ParseCreds(data)
	if err != nil {
		return nil, fmt.Errorf("creds file %s: %w", path, err)
	}
	c.mode = fi.Mode().Perm()
	return c, nil
}

// ParseCreds parses the content of a creds file (nsc's decorated format:
// a user JWT block and a user seed block). Errors describe what is wrong
// and never quote the content: it holds a seed.
func ParseCreds(data []byte) (*Creds, error) {
	if len(data) > maxCredsSize {
		return nil, fmt.Errorf("larger than %d bytes: not a creds file", maxCredsSize)
	}
	tok, err := jwt.ParseDecoratedJWT(data)
	if err != nil || tok == "" {
		return nil, errors.New("no user JWT found (want a file written by natsauth or nsc)")
	}
	uc, err := jwt.DecodeUserClaims(tok)
	if err != nil {
		return nil, errors.New("the JWT in it is not a valid user JWT")
	}
	kp, err := jwt.ParseDecoratedUserNKey(data)
	if err != nil || kp == nil {
		return nil, errors.New("no user seed found")
	}
	pub, err := kp.PublicKey()
	if err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, errors.New("the seed in it is not a user seed")
	}
	if pub != uc.Subject {
		return nil, fmt.Errorf("the seed belongs to user %s, the JWT to user %s", pub, uc.Subject)
	}
	return &Creds{jwt: tok, kp: kp}, nil
}
