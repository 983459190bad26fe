package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocumentedCommandsParse checks every natsauth command line shown in
// a code block of the README and docs against the command tree (nothing
// runs): it fails when one names a command or flag the CLI does not have,
// or gives arguments the command refuses — the docs must not rot as the
// CLI changes.
func TestDocumentedCommandsParse(t *testing.T) {
	files := []string{"../../README.md"}
	for _, pattern := range []string{"../../docs/*.md", "../../docs/stores/*.md", "../../examples/*.md", "../../deploy/*.md"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	checked := 0
	for _, f := range files {
		if strings.HasSuffix(f, "reference.md") {
			continue // generated from the command tree
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range documentedCommands(string(b)) {
			args, ok := splitShell(line)
			if !ok || len(args) == 0 {
				continue
			}
			checked++
			if err := checkInvocation(args); err != nil {
				t.Errorf("%s: natsauth %s: %v", filepath.Base(f), line, err)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d documented commands found; the extraction is broken", checked)
	}
}

var natsauthLine = regexp.MustCompile(`^\s*(?:\$\s+)?(?:go run \./cmd/natsauth|natsauth)\s+(.+)$`)

// documentedCommands returns the arguments of the natsauth command lines
// inside ``` code blocks (not ```text ones: diagrams), with backslash
// continuations joined.
func documentedCommands(md string) []string {
	md = strings.ReplaceAll(md, "\\\n", " ")
	var out []string
	inCode, skip := false, false
	for _, line := range strings.Split(md, "\n") {
		if fence, ok := strings.CutPrefix(strings.TrimSpace(line), "```"); ok {
			inCode = !inCode
			skip = inCode && fence == "text"
			continue
		}
		if m := natsauthLine.FindStringSubmatch(line); inCode && !skip && m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

// splitShell splits a command line like a POSIX shell for the simple
// cases docs use — quotes, and stopping at an unquoted # | > < & or ; —
// and reports false for anything it does not understand ($, backquotes).
func splitShell(s string) ([]string, bool) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range s {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == '$' || r == '`':
			return nil, false
		case strings.ContainsRune("#|><&;", r):
			if inWord {
				words = append(words, cur.String())
			}
			return words, true
		case r == ' ' || r == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, false
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, true
}
