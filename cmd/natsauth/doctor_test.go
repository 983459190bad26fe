package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/natsauth/natsauth/authority"
	"github.com/natsauth/natsauth/doctor"
)

// shellWords splits a fix command the way a shell would, failing the test
// on anything splitShell does not understand.
func shellWords(t *testing.T, s string) []string {
	t.Helper()
	w, ok := splitShell(s)
	if !ok {
		t.Fatalf("cannot split %q like a shell", s)
	}
	return w
}

func runDoctor(t *testing.T, c *cliHome, args ...string) (doctor.Report, error) {
	t.Helper()
	out, errOut, err := c.run(append([]string{"doctor", "--json"}, args...)...)
	var rep doctor.Report
	if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
		t.Fatalf("doctor --json output does not parse: %v\n%s\n%s", jerr, out, errOut)
	}
	return rep, err
}

func checksOf(rep doctor.Report) map[string][]doctor.Finding {
	out := map[string][]doctor.Finding{}
	for _, f := range rep.Findings {
		out[f.Check] = append(out[f.Check], f)
	}
	return out
}

// A deliberately unsafe home is flagged and exits non-zero; applying the
// fix commands doctor prints, as printed, makes it pass (exit 0).
func TestDoctorUnsafeHomeAndItsFixes(t *testing.T) {
	c := initHomeWithStore(t)
	c.must("add", "account", "-n", "A")
	c.must("add", "user", "-a", "A", "-n", "admin", "--allow-pub", ">", "--allow-sub", ">")
	c.must("add", "user", "-a", "A", "-n", "tok", "--bearer", "--allow-pubsub", "t.>", "--expiry", "90d")
	c.must("add", "user", "-a", "A", "-n", "soon", "--allow-pubsub", "s.>", "--expiry", "3d")
	h := openHomeT(t, c)
	if err := os.Chmod(h.CredsPath("A", "admin"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := runDoctor(t, c)
	if err == nil || !strings.Contains(err.Error(), "high-severity") {
		t.Fatalf("doctor on an unsafe home = %v, want a non-zero exit", err)
	}
	got := checksOf(rep)
	for _, check := range []string{doctor.CheckBearer, doctor.CheckPubAll, doctor.CheckSubAll, doctor.CheckUserNoExpiry,
		doctor.CheckExpiring, doctor.CheckAccountNoLimits, doctor.CheckUserByAccountID,
		doctor.CheckNoRequireSK, doctor.CheckFileMode} {
		if len(got[check]) == 0 {
			t.Errorf("unsafe home not flagged for %s", check)
		}
	}
	if rep.Summary["high"] < 2 {
		t.Errorf("summary = %v", rep.Summary)
	}
	text, _, _ := c.run("doctor")
	if !strings.Contains(text, "HIGH") || !strings.Contains(text, "fix: natsauth --home") {
		t.Fatalf("text report:\n%s", text)
	}

	// Apply every fix as printed, round after round (some need others
	// first: --require-signing-keys waits for the rotations).
	for round := 0; round < 6 && len(rep.Findings) > 0; round++ {
		for _, f := range rep.Findings {
			fix, _, _ := strings.Cut(f.Fix, "   #")
			if f.Check == doctor.CheckOperatorSeed {
				seed := strings.Fields(fix)[1]
				if err := os.Rename(seed, filepath.Join(t.TempDir(), "operator.nk")); err != nil {
					t.Fatal(err)
				}
				continue
			}
			words := shellWords(t, strings.ReplaceAll(fix, "'<the subjects it needs>'", "'app.>'"))
			if len(words) < 3 || words[0] != "natsauth" || words[1] != "--home" || words[2] != c.dir {
				t.Fatalf("fix %q is not a natsauth command for this home", f.Fix)
			}
			args := words[1:] // --home HOME and the command
			if args[2] == "rotate" {
				args = append(args, "--settle", "1ms")
			}
			_, _, _ = runCLI(t, append(args, "--store", c.store)...)
		}
		rep, err = runDoctor(t, c)
	}
	if err != nil || len(rep.Findings) != 0 {
		t.Fatalf("after applying the fixes: %v\n%+v", err, rep.Findings)
	}
	if _, err := os.Stat(seedOf(h)); !os.IsNotExist(err) {
		t.Fatal("the operator seed was never reported (it is still in the keystore)")
	}
	out := c.must("doctor")
	if !strings.Contains(out, "no findings") {
		t.Fatalf("doctor on the fixed home:\n%s", out)
	}
}

// Servers: checked over NATS (every server's VARZ through the system
// account) and through a monitoring URL. A TLS server with monitoring on
// loopback passes; a plain one listening everywhere does not.
func TestDoctorServers(t *testing.T) {
	c := sqliteHome(t)
	f := tlsMaterial(t, c)
	mon := asFreePort(t)
	url := serveHome(t, c, "--tls-cert", f.ServerCert, "--tls-key", f.ServerKey, "-m", fmt.Sprint(mon))
	rep, _ := runDoctor(t, c, "--server", url, "--tls-ca", f.CA, "--monitor", fmt.Sprintf("http://127.0.0.1:%d", mon))
	if len(rep.Servers) != 1 {
		t.Fatalf("servers checked = %v, want the one server once (reached over NATS and its monitoring port)", rep.Servers)
	}
	for _, fd := range rep.Findings {
		if strings.HasPrefix(fd.Object, "server ") {
			t.Errorf("safe server flagged: %+v", fd)
		}
	}

	mon2 := asFreePort(t)
	all := []string{"serve", "--home", c.dir, "--store", c.store, "-a", "0.0.0.0", "-p", "-1", "-m", fmt.Sprint(mon2)}
	plain, _, _ := bgRun(t, `natsauth serving on (\S+)`, all...)
	for _, args := range [][]string{{"--monitor", fmt.Sprintf("http://127.0.0.1:%d", mon2)}, {"--server", plain}} {
		rep, err := runDoctor(t, c, args...)
		if err == nil {
			t.Fatalf("doctor %v on a plain server exited 0", args)
		}
		got := checksOf(rep)
		if len(got[doctor.CheckServerTLS]) != 1 || len(got[doctor.CheckMonitorExposed]) != 1 {
			t.Fatalf("doctor %v: %+v", args, rep.Findings)
		}
		if got[doctor.CheckServerTLS][0].Severity != doctor.High {
			t.Fatalf("no TLS is %s", got[doctor.CheckServerTLS][0].Severity)
		}
	}
	// A server that cannot be checked is an error, not a pass.
	if _, err := runDoctor(t, c, "--monitor", fmt.Sprintf("http://127.0.0.1:%d", asFreePort(t))); err == nil ||
		!strings.Contains(err.Error(), "could not check") {
		t.Fatalf("unreachable monitor = %v", err)
	}
}

// seedOf is where the home keeps the operator identity seed.
func seedOf(h *authority.Home) string {
	pub := h.Operator().Subject
	return filepath.Join(h.KeysDir(), "keys", pub[:1], pub[1:3], pub+".nk")
}
