package password

import (
	"errors"
	"strings"
	"testing"
)

func TestHashVerify(t *testing.T) {
	h, err := Hash("correct horse", Fast)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("hash %q: not PHC argon2id", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("hash holds the secret")
	}
	if err := Verify("correct horse", h); err != nil {
		t.Errorf("Verify(right) = %v", err)
	}
	if err := Verify("wrong", h); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	h2, _ := Hash("correct horse", Fast)
	if h == h2 {
		t.Error("two hashes of one secret are equal: salt not random")
	}
	if !NeedsRehash(h, Default) || NeedsRehash(h, Fast) {
		t.Error("NeedsRehash wrong")
	}
}

func TestVerifyBadFormat(t *testing.T) {
	for _, h := range []string{"", "plain", "$argon2i$v=19$m=64,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=0,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA", "$argon2id$v=19$m=64,t=1,p=1$!!$AAAA"} {
		if err := Verify("x", h); !errors.Is(err, ErrFormat) {
			t.Errorf("Verify(%q) = %v, want ErrFormat", h, err)
		}
	}
}

func FuzzDecode(f *testing.F) {
	h, _ := Hash("x", Fast)
	f.Add(h)
	f.Add("$argon2id$v=19$m=64,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		// decode only: Verify of a hash asking for gigabytes would test
		// the machine, not the parser.
		if p, _, key, err := decode(s); err == nil && (p.Memory == 0 || len(key) < 16) {
			t.Fatalf("decode(%q) accepted %+v", s, p)
		}
	})
}
