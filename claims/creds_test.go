package claims

import (
	"bytes"
	"strings"
	"testing"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nkeys"

	"github.com/natsauth/natsauth/internal/testkit"
)

func TestParseCreds(t *testing.T) {
	op := testkit.NewOperator(t)
	acc := op.NewAccount(t, "A", nil)
	u := acc.NewUser(t, "u", nil)
	other := acc.NewUser(t, "other", nil)
	c, err := ParseCreds(u.Creds)
	if err != nil {
		t.Fatal(err)
	}
	if c.jwt != u.JWT {
		t.Error("wrong JWT parsed")
	}
	if pub, _ := c.kp.PublicKey(); pub != u.Pub {
		t.Error("wrong seed parsed")
	}
	// The JWT of one user with the seed of another.
	mixed := bytes.Replace(u.Creds, mustSeed(t, u.KP), mustSeed(t, other.KP), 1)
	if _, err := ParseCreds(mixed); err == nil || !strings.Contains(err.Error(), "the seed belongs to user "+other.Pub) {
		t.Errorf("mixed creds: %v", err)
	}
	// An account seed in place of a user seed.
	accSeed, _ := acc.KP.Seed()
	if _, err := ParseCreds(bytes.Replace(u.Creds, mustSeed(t, u.KP), accSeed, 1)); err == nil {
		t.Error("account seed accepted as a user seed")
	} else if strings.Contains(err.Error(), string(accSeed)) {
		t.Error("the seed is in the error")
	}
}

func mustSeed(t testing.TB, kp nkeys.KeyPair) []byte {
	s, err := kp.Seed()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzParseCreds: parsing a creds file never panics and its errors never
// quote the file (it holds a seed).
func FuzzParseCreds(f *testing.F) {
	op := testkit.NewOperator(f)
	u := op.NewAccount(f, "A", nil).NewUser(f, "u", nil)
	f.Add(u.Creds)
	f.Add([]byte("-----BEGIN NATS USER JWT-----\nabc\n------END NATS USER JWT------\n"))
	f.Add([]byte("SUAM3ZQXZ\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCreds(data)
		if err != nil {
			for _, line := range strings.Fields(string(data)) {
				if len(line) >= 16 && !nkeys.IsValidPublicKey(line) && strings.Contains(err.Error(), line) {
					t.Fatalf("error %q quotes the input", err)
				}
			}
			return
		}
		uc, derr := jwt.DecodeUserClaims(c.jwt)
		if derr != nil {
			t.Fatalf("accepted creds with an invalid JWT: %v", derr)
		}
		if pub, _ := c.kp.PublicKey(); pub != uc.Subject {
			t.Fatal("accepted a seed that does not match the JWT")
		}
	})
}
