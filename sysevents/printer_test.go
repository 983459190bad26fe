package sysevents_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsauth/natsauth/sysevents"
)

func TestPrinter(t *testing.T) {
	rec := sysevents.Record{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Type: "connect", Account: "ACC", User: "UKEY"}
	var text bytes.Buffer
	sysevents.Printer(&text, false)(rec)
	if got, want := text.String(), rec.Line()+"\n"; got != want {
		t.Errorf("text: got %q, want %q", got, want)
	}

	var js bytes.Buffer
	p := sysevents.Printer(&js, true)
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); p(rec) }()
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(js.String(), "\n"), "\n")
	if len(lines) != 50 {
		t.Fatalf("got %d lines, want 50", len(lines))
	}
	for _, l := range lines {
		var got sysevents.Record
		if err := json.Unmarshal([]byte(l), &got); err != nil || got != rec {
			t.Fatalf("line %q: got %+v, %v", l, got, err)
		}
	}
}
