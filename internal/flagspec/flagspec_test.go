package flagspec

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

type edit struct {
	Limit   *int64
	Name    *string
	On      *bool
	Count   *int
	List    []string
	Flag    bool
	Expires *time.Time
}

func bind(e *edit) (*pflag.FlagSet, *Set) {
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	return fs, Bind(fs,
		S("max-payload|payload", "payload", 's', Limit(&e.Limit, true)),
		S("name,n", "name", 's', To(&e.Name, Text)),
		S("on", "on", 'b', To(&e.On, Bool)),
		S("count", "count", '1', To(&e.Count, Int)),
		S("tag", "tags", 'l', List(&e.List)),
		S("rm", "remove", 'b', Value(&e.Flag, Bool)),
		S("expiry", "expiry", 's', To(&e.Expires, Time)))
}

func TestBindAndApply(t *testing.T) {
	var e edit
	fs, s := bind(&e)
	if err := fs.Parse([]string{"--payload", "1KB", "-n", "x", "--on", "--count", "--tag", "a,b", "--tag", " c ", "--rm=false", "--expiry", "1d"}); err != nil {
		t.Fatal(err)
	}
	var problems []string
	changes := s.Apply(func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
	if len(problems) > 0 {
		t.Fatalf("problems: %v", problems)
	}
	if *e.Limit != 1000 || *e.Name != "x" || !*e.On || *e.Count != 1 || strings.Join(e.List, "|") != "a|b|c" || e.Flag || e.Expires == nil {
		t.Errorf("edit = %+v", e)
	}
	if got := strings.Join(changes, "; "); got != "payload 1 KB; name x; on true; count 1; tag a,b, c; rm false; expiry 1d" {
		t.Errorf("changes = %q", got)
	}
	if fs.Lookup("payload").Usage != "same as --max-payload" || fs.ShorthandLookup("n") == nil {
		t.Error("alias or shorthand not bound")
	}
}

// Every bad value is reported, each naming its flag; an alias that
// disagrees is a problem.
func TestApplyReportsEveryProblem(t *testing.T) {
	var e edit
	fs, s := bind(&e)
	if err := fs.Parse([]string{"--max-payload", "1MB", "--payload", "2MB", "--on=maybe", "--count=x", "--expiry", "3q"}); err != nil {
		t.Fatal(err)
	}
	var problems []string
	s.Apply(func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) })
	want := []string{"--payload: 2MB and 1 MB", "--on: \"maybe\" is not true or false", "--count: \"x\" is not a whole number", "--expiry:"}
	if len(problems) != len(want) {
		t.Fatalf("problems = %q", problems)
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("problem %d = %q, want %q...", i, problems[i], w)
		}
	}
}

func TestVal(t *testing.T) {
	if Val[int](nil) != 0 || Val(new(string)) != "" {
		t.Error("zero values")
	}
	v := 3
	if Val(&v) != 3 {
		t.Error("value")
	}
}
