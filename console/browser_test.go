package console_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"

	"github.com/natsauth/natsauth/authority"
)

// Browser tests drive Debian's chromium (scripts/test installs it, as it
// installs PostgreSQL) through chromedp. They fail — never skip — when no
// browser can be started: NATSAUTH_CHROMIUM names another binary.
//
// NATSAUTH_SCREENSHOTS=1 saves screenshots of the main pages into docs/
// (README shows them); without it they go to a temporary directory, so a
// test run never dirties the tree.

func chromiumPath(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("NATSAUTH_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	t.Fatal("no chromium found: install Debian's chromium package (scripts/test does) or set NATSAUTH_CHROMIUM")
	return ""
}

// newBrowser starts a headless chromium with a fresh profile and returns
// a tab's context, downloads saved into the returned directory.
func newBrowser(t *testing.T) (context.Context, string) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelT := chromedp.NewContext(actx)
	ctx, cancelD := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelD(); cancelT(); cancelA() })
	downloads := t.TempDir()
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank"), chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
		return err
	})); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	// Accept confirm() dialogs (revoke asks first).
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			_, _ = chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
		}
	}()
	return ctx, downloads
}

func run(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// fetchStatus runs a fetch in the page and returns the HTTP status.
func fetchStatus(t *testing.T, ctx context.Context, js string) int {
	t.Helper()
	st, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("fetch in the page: %v", err)
	}
	return st
}

// shot saves a screenshot of the page as docs/console-<name>.png when
// NATSAUTH_SCREENSHOTS is set.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := t.TempDir()
	if os.Getenv("NATSAUTH_SCREENSHOTS") != "" {
		dir = filepath.Join("..", "docs")
	}
	b, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "console-"+name+".png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func login(t *testing.T, ctx context.Context, base, name string) {
	t.Helper()
	run(t, ctx, "sign in as "+name,
		chromedp.Navigate(base+"/#/login"),
		chromedp.WaitVisible(chromedp.ID("f-password")),
		chromedp.SendKeys(chromedp.ID("f-name"), name),
		chromedp.SendKeys(chromedp.ID("f-password"), name+" password 1\n"),
		chromedp.WaitVisible(chromedp.CSS("#nav:not([hidden])")),
	)
}

// The browser walk: log in, create an account and a user, download
// the creds and connect with nats.go, change a limit and see it enforced,
// revoke the user from the live connections and see the connection closed
// and the audit entry appear; an observer is refused a change, and a change
// without the CSRF token is refused.
func TestBrowserConsole(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i := 1; i <= 24; i++ { // a list worth paging through for the screenshots
		js := authority.AccountEdit{}
		if i%3 == 0 {
			js = authority.AccountEdit{JSMemStorage: authority.Int64(1 << 20), JSDiskStorage: authority.Int64(1 << 20)}
		}
		js.Conns = authority.Int64(int64(100 * i))
		if _, _, err := e.m.AddAccount(ctx, fmt.Sprintf("team-%02d", i), js); err != nil {
			t.Fatal(err)
		}
	}
	bctx, downloads := newBrowser(t)
	base := e.http.URL
	login(t, bctx, base, "admin")
	run(t, bctx, "overview", chromedp.WaitVisible(chromedp.Search(`//h2[text()="Servers"]`)))
	shot(t, bctx, "overview")

	// Create an account from the accounts page.
	run(t, bctx, "create account",
		chromedp.Navigate(base+"/#/accounts"),
		chromedp.WaitVisible(chromedp.ID("count")),
		chromedp.SendKeys(chromedp.CSS(`form input[name="name"]`), "Shop"),
		chromedp.SendKeys(chromedp.CSS(`form input[name="max_payload"]`), "1MB"),
		chromedp.Click(chromedp.Search(`//button[text()="Create account"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Account Shop"]`)),
	)
	if _, err := e.m.Home().Account("Shop"); err != nil {
		t.Fatalf("the account made in the browser is not in the home: %v", err)
	}

	// Create a user with the walkthrough's options and download its creds.
	run(t, bctx, "create user",
		chromedp.WaitVisible(chromedp.Search(`//legend[text()="New user"]`)),
		chromedp.SendKeys(chromedp.CSS(`#users-h ~ form input[name="name"]`), "carol"),
		chromedp.SendKeys(chromedp.CSS(`input[name="allow_pub"]`), "orders.>"),
		chromedp.SendKeys(chromedp.CSS(`input[name="allow_sub"]`), "orders.>, _INBOX.>"),
		chromedp.SendKeys(chromedp.CSS(`input[name="allow_pub_response"]`), "1"),
		chromedp.SendKeys(chromedp.CSS(`input[name="expiry"]`), "3d"),
		chromedp.Click(chromedp.Search(`//button[text()="Create user"]`)),
		chromedp.WaitVisible(chromedp.ID("creds-now")),
		chromedp.Click(chromedp.ID("creds-now")),
	)
	credsPath := filepath.Join(downloads, "carol.creds")
	if os.Getenv("DEBUG_BROWSER") != "" {
		time.Sleep(3 * time.Second)
		txt, _ := chromedp.Run(bctx, chromedp.Text(chromedp.ID("status")))
		ents, _ := os.ReadDir(downloads)
		t.Logf("status %q, downloads %v", txt, ents)
		b, _ := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		os.WriteFile("/tmp/dbg.png", b, 0o644)
	}
	waitFor(t, 20*time.Second, "the creds download", func() bool {
		b, err := os.ReadFile(credsPath)
		return err == nil && strings.Contains(string(b), "USER NKEY SEED")
	})
	// The user expires within a week: highlighted.
	run(t, bctx, "expiry highlighted", chromedp.WaitVisible(chromedp.Search(`//span[contains(@class,"warn") and contains(., "expires soon")]`)))

	nc, err := nats.Connect(e.node.ClientURL(), nats.UserCredentials(credsPath), nats.NoReconnect(), nats.Name("carol-laptop"))
	if err != nil {
		t.Fatalf("connect with the creds downloaded by the browser: %v", err)
	}
	defer nc.Close()
	closed := make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	if _, err := nc.Subscribe("orders.>", func(*nats.Msg) {}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish("orders.new", make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("a 2000-byte publish under the 1MB limit: %v", err)
	}

	// Change the limit in place: the server enforces it.
	run(t, bctx, "edit limit",
		chromedp.Navigate(base+"/#/accounts/Shop"),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Account Shop"]`)),
		chromedp.Clear(chromedp.ID("f-max_payload")),
		chromedp.SendKeys(chromedp.ID("f-max_payload"), "1000"),
		chromedp.Click(chromedp.Search(`//button[text()="Save limits"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "Limits saved and applied")]`)),
	)
	if acc, _ := e.m.Home().Account("Shop"); acc.Claims.Limits.Payload != 1000 {
		t.Fatalf("max payload in the home: %d", acc.Claims.Limits.Payload)
	}
	if err := nc.Publish("orders.new", make([]byte, 2000)); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("a publish over the limit set in the browser was not refused")
	}
	if err := nc.LastError(); err == nil || !strings.Contains(strings.ToLower(err.Error()), "maximum payload") {
		t.Errorf("closed for %v, want a maximum payload violation", err)
	}

	// Connect again; revoke from the live connections table.
	nc, err = nats.Connect(e.node.ClientURL(), nats.UserCredentials(credsPath), nats.NoReconnect(), nats.Name("carol-laptop"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	closed = make(chan struct{})
	nc.SetClosedHandler(func(*nats.Conn) { close(closed) })
	run(t, bctx, "live connection listed",
		chromedp.Navigate(base+"/#/accounts/Shop?r=1"),
		chromedp.WaitVisible(chromedp.Search(`//h2[text()="JetStream usage"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[text()="carol-laptop"]`)),
	)
	shot(t, bctx, "account")
	run(t, bctx, "revoke from the live connections",
		chromedp.Click(chromedp.Search(`//section[h2[@id="conns-h"]]//button[text()="Revoke"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[contains(., "User carol revoked.")]`)),
	)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the revoked user's live connection is still open")
	}
	// The revoked creds now fail: an auth failure with its reason.
	if _, err := nats.Connect(e.node.ClientURL(), nats.UserCredentials(credsPath), nats.NoReconnect()); err == nil {
		t.Fatal("revoked creds still connect")
	}
	run(t, bctx, "audit entry",
		chromedp.Navigate(base+"/#/audit?account=Shop"),
		chromedp.WaitVisible(chromedp.Search(`//strong[text()="revoke user"]`)),
		chromedp.WaitVisible(chromedp.Search(`//td[contains(., "admin (operator-admin)")]`)),
		chromedp.WaitVisible(chromedp.Search(`//li[code[text()="nats.limits.payload"]]`)),
	)
	shot(t, bctx, "audit")
	run(t, bctx, "auth failure listed",
		chromedp.Navigate(base+"/#/failures"),
		chromedp.WaitVisible(chromedp.Search(`//strong[text()="revoked"]`), chromedp.RetryInterval(200*time.Millisecond)),
	)
	shot(t, bctx, "failures")
	run(t, bctx, "accounts list", chromedp.Navigate(base+"/#/accounts"), chromedp.WaitVisible(chromedp.Search(`//a[text()="team-01"]`)))
	shot(t, bctx, "accounts")

	// CSRF: the same change without the token is refused.
	st := fetchStatus(t, bctx, `fetch("/api/accounts/Shop", {method: "PATCH", headers: {"Content-Type": "application/json"},
		body: JSON.stringify({max_payload: 5})}).then(r => r.status)`)
	if st != 403 {
		t.Errorf("PATCH without the CSRF token from the page: %d, want 403", st)
	}

	// Phone-sized: the account page still reads.
	run(t, bctx, "phone view", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile),
		chromedp.Navigate(base+"/#/accounts/Shop"), chromedp.WaitVisible(chromedp.Search(`//h1[text()="Account Shop"]`)))
	shot(t, bctx, "phone")
	run(t, bctx, "desktop again", chromedp.EmulateReset())

	// An observer sees the account but cannot change it.
	run(t, bctx, "sign out", chromedp.Click(chromedp.Search(`//button[text()="Sign out"]`)), chromedp.WaitVisible(chromedp.ID("f-password")))
	login(t, bctx, base, "watcher")
	run(t, bctx, "observer reads",
		chromedp.Navigate(base+"/#/accounts/Shop"),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Account Shop"]`)),
		chromedp.WaitNotPresent(chromedp.Search(`//button[text()="Save limits"]`)),
	)
	st = fetchStatus(t, bctx, `fetch("/api/session").then(r => r.json()).then(s => fetch("/api/accounts/Shop", {method: "PATCH",
		headers: {"Content-Type": "application/json", "X-CSRF-Token": s.csrf}, body: JSON.stringify({max_payload: 5})})).then(r => r.status)`)
	if st != 403 {
		t.Errorf("observer's change with a valid CSRF token: %d, want 403", st)
	}
	if acc, _ := e.m.Home().Account("Shop"); acc.Claims.Limits.Payload != 1000 {
		t.Fatalf("a refused change was made: max payload %d", acc.Claims.Limits.Payload)
	}
}
