// Command gotestreport reads `go test -json` output on stdin and prints what
// a person needs: one line per package, the full output of every failed
// test, every skipped test with its reason, the slowest tests, and a
// closing "tests: N passed, N failed, N skipped" line.
//
// It exits non-zero if any test or package failed, a package did not
// build, no test ran at all, or a test was skipped without matching an
// -allow-skip pattern: in this project a skipped suite is a failed one.
//
//	go test -json ./... 2>&1 | go run ./scripts/lib/gotestreport [-allow-skip REGEXP]...
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

type patterns []*regexp.Regexp

func (p *patterns) String() string { return fmt.Sprint(*p) }

func (p *patterns) Set(s string) error {
	re, err := regexp.Compile(s)
	if err != nil {
		return err
	}
	*p = append(*p, re)
	return nil
}

func main() {
	var allow patterns
	flag.Var(&allow, "allow-skip", "regexp matched against \"package.TestName\" of a test allowed to skip (repeatable)")
	slowest := flag.Int("slowest", 10, "how many of the slowest tests to list")
	counts := flag.String("counts", "", "also write \"PASSED FAILED SKIPPED\" to this file")
	flag.Parse()
	r := newReport(os.Stdout, allow, *slowest)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "gotestreport: %v\n", err)
		os.Exit(2)
	}
	ok := r.finish()
	if *counts != "" {
		line := fmt.Sprintf("%d %d %d\n", r.passed, r.failed, r.skipped)
		if err := os.WriteFile(*counts, []byte(line), 0o644); err != nil {
			fmt.Fprintf(os.Stderr, "gotestreport: %v\n", err)
			os.Exit(2)
		}
	}
	if !ok {
		os.Exit(1)
	}
}

// read consumes the whole stream.
func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		r.line(sc.Text())
	}
	return sc.Err()
}

// matches reports whether name matches one of the patterns.
func (p patterns) matches(name string) bool {
	for _, re := range p {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}

// skipReason picks the reason out of a skipped test's output.
func skipReason(out []string) string {
	var lines []string
	for _, l := range out {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		lines = append(lines, t)
	}
	if len(lines) == 0 {
		return "(no reason given)"
	}
	return strings.Join(lines, " | ")
}
