package authority

import (
	"slices"
	"testing"
	"time"

	"github.com/nats-io/jwt/v2"
)

func TestSigningKeyChangesAndAddedImports(t *testing.T) {
	h := newHome(t)
	before := mustAccount(t, h, "A", AccountEdit{AddSigningKeys: []string{"", ""}})
	mustAccount(t, h, "B", AccountEdit{})
	if _, err := h.AddExport("B", ExportSpec{Subject: "feed.>"}); err != nil {
		t.Fatal(err)
	}
	old := before.Claims.SigningKeys.Keys()
	after, err := h.EditAccount("A", AccountEdit{AddSigningKeys: []string{""}, RemoveSigningKeys: old[:1]})
	if err != nil {
		t.Fatal(err)
	}
	added, removed := SigningKeyChanges(before, after)
	if len(added) != 1 || slices.Contains(old, added[0]) || !slices.Equal(removed, old[:1]) {
		t.Errorf("added %v, removed %v (before %v)", added, removed, old)
	}
	if a, r := SigningKeyChanges(nil, after); a != nil || r != nil {
		t.Error("changes against no account")
	}
	if got := AddedImports(after, after); got != nil {
		t.Errorf("no import added: %v", got)
	}
	imported, err := h.AddImport("A", ImportSpec{Account: "B", Subject: "feed.>"})
	if err != nil {
		t.Fatal(err)
	}
	got := AddedImports(after, imported)
	if len(got) != 1 || string(got[0].Subject) != "feed.>" || AddedImports(nil, imported) != nil {
		t.Errorf("added imports %v", got)
	}
}

func TestExportEditSpec(t *testing.T) {
	if got := (ExportEdit{}).Spec("a.>"); got != (ExportSpec{Subject: "a.>"}) {
		t.Errorf("empty edit: %+v", got)
	}
	d, pos, yes, rt := 5*time.Second, uint(2), true, jwt.ResponseTypeStream
	e := ExportEdit{Name: &rt, Service: &yes, Private: &yes, ResponseType: &rt, ResponseThreshold: &d,
		LatencySubject: &rt, LatencySampling: &rt, AccountTokenPosition: &pos, AllowTrace: &yes, Description: &rt, InfoURL: &rt}
	want := ExportSpec{Subject: "s.*", Name: rt, Service: true, Private: true, ResponseType: rt, ResponseThreshold: d,
		LatencySubject: rt, LatencySampling: rt, AccountTokenPosition: 2, AllowTrace: true, Description: rt, InfoURL: rt}
	if got := e.Spec("s.*"); got != want {
		t.Errorf("Spec = %+v, want %+v", got, want)
	}
}
