package authority

import (
	"crypto/sha512"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"
)

// encodeAccount signs ac with kp. The issued-at time is now, but never
// earlier than minIat: a re-signed account must not look older than the
// JWT it replaces (stores keep the newest by iat), even if the clock went
// back. A re-sign within the same second keeps the same iat.
func encodeAccount(ac *jwt.AccountClaims, kp nkeys.KeyPair, minIat int64) (string, error) {
	tok, err := ac.Encode(kp)
	if err != nil {
		return "", fmt.Errorf("sign account %s: %w", ac.Subject, err)
	}
	if ac.IssuedAt >= minIat {
		return tok, nil
	}
	// The clock is behind the stored JWT: sign again with iat = minIat, the
	// way jwt.Encode does (jti is the hash of the claims data without jti).
	ac.IssuedAt = minIat
	ac.ID = ""
	cd, err := json.Marshal(&ac.ClaimsData)
	if err != nil {
		return "", fmt.Errorf("sign account %s: %w", ac.Subject, err)
	}
	sum := sha512.Sum512_256(cd)
	ac.ID = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:])
	payload, err := json.Marshal(ac)
	if err != nil {
		return "", fmt.Errorf("sign account %s: %w", ac.Subject, err)
	}
	header := tok[:strings.IndexByte(tok, '.')]
	toSign := header + "." + base64.RawURLEncoding.EncodeToString(payload)
	sig, err := kp.Sign([]byte(toSign))
	if err != nil {
		return "", fmt.Errorf("sign account %s: %w", ac.Subject, err)
	}
	return toSign + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
