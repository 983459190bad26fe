package authority

import (
	"strings"
	"testing"
)

func TestUserAndAccountProblems(t *testing.T) {
	h := newHome(t)
	if _, err := h.AddAccount("A", AccountEdit{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.AddUser("A", "alice", UserEdit{}); err != nil {
		t.Fatal(err)
	}
	bad := UserEdit{Src: []string{"not-a-cidr"}}
	for _, tc := range []struct {
		what  string
		check func(p *Problems)
		want  []string
	}{
		{"add user: bad name, bad edit", func(p *Problems) { h.UserProblems(p, "A", "a/b", bad, false) },
			[]string{`"a/b" cannot contain`, "not-a-cidr"}},
		{"add user: no account", func(p *Problems) { h.UserProblems(p, "Nope", "bob", UserEdit{}, false) },
			[]string{"Nope"}},
		{"edit user: no user", func(p *Problems) { h.UserProblems(p, "A", "bob", UserEdit{}, true) },
			[]string{"bob"}},
		{"edit user: fine", func(p *Problems) { h.UserProblems(p, "A", "alice", UserEdit{}, true) }, nil},
		{"add account: exists", func(p *Problems) { h.AccountProblems(p, "A", AccountEdit{}, false) },
			[]string{`account "A" already exists`}},
		{"edit account: missing", func(p *Problems) { h.AccountProblems(p, "B", AccountEdit{}, true) }, []string{"B"}},
		{"add account: new", func(p *Problems) { h.AccountProblems(p, "B", AccountEdit{}, false) }, nil},
	} {
		p := NewProblems("test")
		tc.check(p)
		err := p.Err()
		if (err == nil) != (len(tc.want) == 0) {
			t.Errorf("%s: got %v, want problems %q", tc.what, err, tc.want)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %v lacks %q", tc.what, err, w)
			}
		}
	}
}
