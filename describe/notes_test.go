package describe_test

import (
	"bytes"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/describe"
)

func TestSigningKeyChangesAndRestartNote(t *testing.T) {
	h := home(t)
	before, _ := h.Account("A")
	after, err := h.EditAccount("A", authority.AccountEdit{AddSigningKeys: []string{""}})
	if err != nil {
		t.Fatal(err)
	}
	added, _ := authority.SigningKeyChanges(before, after)
	if len(added) != 1 {
		t.Fatalf("added %v, want one key", added)
	}
	var b bytes.Buffer
	describe.SigningKeyChanges(&b, before, after)
	wantAll(t, "added key", b.String(), "  added signing key "+added[0]+" (new users of A are signed with it)\n")
	b.Reset()
	describe.SigningKeyChanges(&b, after, before)
	wantAll(t, "removed key", b.String(), "  removed signing key "+added[0]+"\n")
	b.Reset()
	describe.RestartNote(&b, h)
	wantAll(t, "restart note", b.String(), "Restart every natsauth serve", h.OperatorJWTPath())
}
