package jsondiff

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	type limits struct {
		Conn    int64    `json:"conn"`
		Payload int64    `json:"payload"`
		Tags    []string `json:"tags,omitempty"`
	}
	type claims struct {
		Name   string `json:"name"`
		IAT    int64  `json:"iat"`
		Limits limits `json:"limits"`
	}
	a := claims{Name: "A", IAT: 1, Limits: limits{Conn: -1, Payload: 1024, Tags: []string{"x"}}}
	b := claims{Name: "A", IAT: 2, Limits: limits{Conn: 5, Payload: 1024, Tags: []string{"x", "y"}}}
	got, err := Diff(a, b, "iat")
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{Path: "limits.conn", Old: "-1", New: "5"}, {Path: "limits.tags[1]", New: `"y"`}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Diff = %+v, want %+v", got, want)
	}
	if got, _ := Diff(a, a); len(got) != 0 {
		t.Fatalf("Diff of equal values = %+v", got)
	}
	created, _ := Diff(nil, limits{Conn: 1})
	if len(created) != 2 || created[0].Old != "" {
		t.Fatalf("Diff from nil = %+v", created)
	}
	if s := (Change{Path: "p", Old: "1", New: "2"}).String(); s != "p: 1 → 2" {
		t.Errorf("String = %q", s)
	}
}
