package authority

import (
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// encodeAt signs c with kp and an issued-at time of iat (jwt's Encode
// always uses now). Re-issuing a user with its old iat keeps the account's
// revocations (which refuse JWTs issued at or before a time) applying to it
// exactly as before.
func encodeAt(c jwt.Claims, kp nkeys.KeyPair, iat int64) (string, error) {
	tok, err := c.Encode(kp)
	if err != nil {
		return "", err
	}
	cd := c.Claims()
	if cd.IssuedAt == iat {
		return tok, nil
	}
	// Sign again the way jwt.Encode does: jti is the hash of the claims
	// data without jti.
	cd.IssuedAt = iat
	cd.ID = ""
	raw, err := json.Marshal(cd)
	if err != nil {
		return "", err
	}
	sum := sha512.Sum512_256(raw)
	cd.ID = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	header := tok[:strings.IndexByte(tok, '.')]
	toSign := header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := kp.Sign([]byte(toSign))
	if err != nil {
		return "", fmt.Errorf("sign: %w", err)
	}
	return toSign + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

// jwtNow is the issued-at time jwt's Encode would use.
func jwtNow() int64 { return time.Now().UTC().Unix() }
