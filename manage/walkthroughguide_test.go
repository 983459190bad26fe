package manage

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
)

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/srv/natsauth/home-1_x.y": "/srv/natsauth/home-1_x.y",
		"/tmp/my home":             "'/tmp/my home'",
		"/tmp/a$b":                 "'/tmp/a$b'",
	} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWalkthroughGuide(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my home")
	h, err := authority.Init(dir, WalkthroughOperator)
	if err != nil {
		t.Fatal(err)
	}
	g := WalkthroughGuide{Home: h, ServerVersion: "2.15.0", ClientURL: "nats://127.0.0.1:4222",
		StoreURL: "postgres://u:secret@db/x", Self: "natsauth"}
	var b strings.Builder
	g.WriteText(&b)
	out := b.String()
	q := "'" + filepath.ToSlash(dir)
	for _, want := range []string{
		"Using the existing walkthrough setup in " + dir,
		"nats-server 2.15.0 is running on nats://127.0.0.1:4222, JetStream on",
		"nats -s nats://127.0.0.1:4222 sub --creds=" + q,
		"natsauth --home " + q + "' edit account MyAccount --max-payload 512K",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the guide lacks %q:\n%s", want, out)
		}
	}
	for _, unwanted := range []string{"secret", "monitoring on", "curl"} {
		if strings.Contains(out, unwanted) {
			t.Errorf("the guide holds %q:\n%s", unwanted, out)
		}
	}
	b.Reset()
	g.Made, g.MonitorAddr = []string{"account MyAccount"}, "127.0.0.1:8222"
	g.WriteText(&b)
	for _, want := range []string{"Created in " + dir + ":\n  - account MyAccount\n", ", monitoring on http://127.0.0.1:8222", "curl http://127.0.0.1:8222/connz"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the guide lacks %q:\n%s", want, b.String())
		}
	}
}
