package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// No container engine runs in CI, so the image and the Compose files are
// never started there. These tests keep them honest against the CLI: every
// natsauth command line in the Dockerfile and in deploy/docker-compose*.yml
// (entrypoint + command, health checks) must parse as a natsauth command with
// known flags, and every file or build context they name must exist.

// checkInvocation parses args (without "natsauth") as the CLI would, without
// running anything.
func checkInvocation(args []string) error {
	root := newRootCmd(io.Discard, io.Discard)
	cmd, rest, err := root.Find(args)
	if err != nil {
		return err
	}
	if cmd == root || !cmd.Runnable() {
		return fmt.Errorf("%q is not a natsauth command", strings.Join(args, " "))
	}
	if err := cmd.ParseFlags(rest); err != nil {
		return fmt.Errorf("natsauth %s: %w", cmd.Name(), err)
	}
	if err := cmd.ValidateArgs(cmd.Flags().Args()); err != nil {
		return fmt.Errorf("natsauth %s: %w", cmd.Name(), err)
	}
	return nil
}

func TestCheckInvocationRefusesBadCommands(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--no-such-flag"},
		{"serve", "-p", "not-a-port"},
		{"no-such-command"},
		{"healthcheck", "http://a/healthz", "extra-arg"},
		{"add", "acount", "-n", "A"},
		{"add", "account", "A", "extra", "words"},
		{"describe", "operator", "extra"},
	} {
		if err := checkInvocation(args); err == nil {
			t.Errorf("natsauth %v accepted", args)
		}
	}
	if err := checkInvocation([]string{"serve", "--js", "-m", "8222"}); err != nil {
		t.Errorf("a good command line refused: %v", err)
	}
}

// Dockerfile lines like: ENTRYPOINT ["natsauth", "serve"]
var dockerJSONRe = regexp.MustCompile(`^\s*(ENTRYPOINT|CMD|HEALTHCHECK\b.*\bCMD)\s+(\[.*\])\s*$`)

// dockerfileCommands reads the JSON-form ENTRYPOINT, CMD and HEALTHCHECK
// command lines of a Dockerfile, joining continuation lines.
func dockerfileCommands(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got := map[string][]string{}
	sc := bufio.NewScanner(f)
	var line string
	for sc.Scan() {
		l := sc.Text()
		if strings.HasSuffix(l, `\`) {
			line += strings.TrimSuffix(l, `\`)
			continue
		}
		line += l
		if m := dockerJSONRe.FindStringSubmatch(line); m != nil {
			var argv []string
			if err := json.Unmarshal([]byte(m[2]), &argv); err != nil {
				t.Fatalf("%s: %s: %v", path, line, err)
			}
			got[strings.Fields(m[1])[0]] = argv
		}
		line = ""
	}
	return got
}

func TestDockerfileCommands(t *testing.T) {
	cmds := dockerfileCommands(t, filepath.Join(repoRoot, "Dockerfile"))
	ep, cmd, hc := cmds["ENTRYPOINT"], cmds["CMD"], cmds["HEALTHCHECK"]
	if len(ep) == 0 || ep[0] != "natsauth" || len(hc) == 0 || hc[0] != "natsauth" {
		t.Fatalf("Dockerfile: want ENTRYPOINT and HEALTHCHECK running natsauth, got %q and %q", ep, hc)
	}
	if err := checkInvocation(append(ep[1:], cmd...)); err != nil {
		t.Errorf("Dockerfile ENTRYPOINT + CMD: %v", err)
	}
	if err := checkInvocation(hc[1:]); err != nil {
		t.Errorf("Dockerfile HEALTHCHECK: %v", err)
	}
	// The health check probes the monitoring port the default command opens.
	if !strings.Contains(strings.Join(cmd, " "), "-m 8222") || !strings.Contains(strings.Join(hc, " "), ":8222/healthz") {
		t.Errorf("CMD %q and HEALTHCHECK %q disagree on the monitoring port", cmd, hc)
	}
	ex := dockerfileCommands(t, filepath.Join(repoRoot, "examples", "go", "Dockerfile"))
	if got := ex["ENTRYPOINT"]; len(got) != 1 || got[0] != "/example" {
		t.Errorf("examples/go/Dockerfile ENTRYPOINT %q", got)
	}
}

// composeService is what the checks need of a Compose service.
type composeService struct {
	Image       string `yaml:"image"`
	Build       any    `yaml:"build"`
	Entrypoint  any    `yaml:"entrypoint"`
	Command     any    `yaml:"command"`
	Volumes     []string
	Healthcheck struct {
		Test any `yaml:"test"`
	} `yaml:"healthcheck"`
}

func argv(t *testing.T, where string, v any) []string {
	t.Helper()
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		out := make([]string, len(v))
		for i, s := range v {
			str, ok := s.(string)
			if !ok {
				t.Fatalf("%s: %v is not a string", where, s)
			}
			out[i] = str
		}
		return out
	default:
		t.Fatalf("%s: write it as a list (exec form), not %T", where, v)
		return nil
	}
}

func TestComposeFiles(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "deploy", "docker-compose*.yml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no compose files in deploy/ (%v)", err)
	}
	_, imageCmd := func() ([]string, []string) {
		c := dockerfileCommands(t, filepath.Join(repoRoot, "Dockerfile"))
		return c["ENTRYPOINT"], c["CMD"]
	}()
	checked := 0
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Services map[string]composeService `yaml:"services"`
		}
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		name := filepath.Base(file)
		for svcName, svc := range doc.Services {
			where := name + ": service " + svcName
			ep := argv(t, where+" entrypoint", svc.Entrypoint)
			cmd := argv(t, where+" command", svc.Command)
			if svc.Image == "natsauth:local" {
				if ep == nil {
					ep = []string{"natsauth", "serve"} // the image's ENTRYPOINT
					if cmd == nil {
						cmd = imageCmd
					}
				}
				if ep[0] != "natsauth" {
					t.Errorf("%s: entrypoint %q does not run natsauth", where, ep)
					continue
				}
				if err := checkInvocation(append(ep[1:], cmd...)); err != nil {
					t.Errorf("%s: %v", where, err)
				}
				checked++
			}
			if hc := argv(t, where+" healthcheck", svc.Healthcheck.Test); len(hc) > 1 && hc[1] == "natsauth" {
				if err := checkInvocation(hc[2:]); err != nil {
					t.Errorf("%s healthcheck: %v", where, err)
				}
				checked++
			}
			checkBuild(t, where, svc.Build)
			for _, v := range svc.Volumes {
				if src, _, ok := strings.Cut(v, ":"); ok && strings.HasPrefix(src, "./") {
					if _, err := os.Stat(filepath.Join(repoRoot, "deploy", src)); err != nil {
						t.Errorf("%s mounts %s: %v", where, src, err)
					}
				}
			}
		}
	}
	if checked < 10 {
		t.Errorf("only %d natsauth command lines found in the compose files", checked)
	}
}

// checkBuild checks a build context (relative to deploy/) and, for the
// examples' Dockerfile, that the EXAMPLE it builds exists.
func checkBuild(t *testing.T, where string, b any) {
	t.Helper()
	var ctx, dockerfile, example string
	switch b := b.(type) {
	case nil:
		return
	case string:
		ctx = b
	case map[string]any:
		ctx, _ = b["context"].(string)
		dockerfile, _ = b["dockerfile"].(string)
		if args, ok := b["args"].(map[string]any); ok {
			example, _ = args["EXAMPLE"].(string)
		}
	}
	dir := filepath.Join(repoRoot, "deploy", ctx)
	if dockerfile == "" {
		dockerfile = "Dockerfile"
	}
	if _, err := os.Stat(filepath.Join(dir, dockerfile)); err != nil {
		t.Errorf("%s: build: %v", where, err)
	}
	if example != "" {
		if _, err := os.Stat(filepath.Join(dir, "examples", "go", example, "main.go")); err != nil {
			t.Errorf("%s: builds example %q: %v", where, example, err)
		}
	}
}
