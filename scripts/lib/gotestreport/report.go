package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Time       time.Time
	Action     string
	Package    string
	Test       string
	Output     string
	Elapsed    float64
	ImportPath string // build-output, build-fail
}

type testKey struct{ pkg, test string }

type timing struct {
	name    string
	elapsed float64
}

// report accumulates the stream and writes the readable view.
type report struct {
	w       io.Writer
	allow   patterns
	slowest int

	output  map[testKey][]string // output of tests (and packages: test "") not yet ended
	running map[testKey]bool

	passed, failed, skipped int
	badSkips                []string // skipped and not allowed
	failedPkgs              []string
	buildFailed             []string
	times                   []timing
}

func newReport(w io.Writer, allow patterns, slowest int) *report {
	return &report{
		w: w, allow: allow, slowest: slowest,
		output:  map[testKey][]string{},
		running: map[testKey]bool{},
	}
}

func (r *report) printf(format string, args ...any) { fmt.Fprintf(r.w, format, args...) }

// line handles one input line; what is not a test2json event (e.g. build
// errors on stderr) is printed as it is.
func (r *report) line(s string) {
	var ev event
	if !strings.HasPrefix(s, "{") || json.Unmarshal([]byte(s), &ev) != nil || ev.Action == "" {
		r.printf("%s\n", s)
		return
	}
	r.handle(ev)
}

func (r *report) handle(ev event) {
	k := testKey{ev.Package, ev.Test}
	switch ev.Action {
	case "build-output":
		r.printf("%s", ev.Output)
	case "build-fail":
		r.buildFailed = append(r.buildFailed, ev.ImportPath)
	case "start":
	case "run":
		r.running[k] = true
	case "output":
		r.output[k] = append(r.output[k], ev.Output)
	case "pause", "cont", "bench":
	case "pass":
		if ev.Test == "" {
			r.printf("ok   %s\t%.1fs\n", ev.Package, ev.Elapsed)
			delete(r.output, k)
			return
		}
		r.passed++
		r.timed(ev)
		r.end(k)
	case "fail":
		if ev.Test == "" {
			r.failedPkgs = append(r.failedPkgs, ev.Package)
			r.printUnfinished(ev.Package)
			r.printf("FAIL %s\t%.1fs\n", ev.Package, ev.Elapsed)
			r.printOutput(r.output[k], "    ")
			delete(r.output, k)
			return
		}
		r.failed++
		r.timed(ev)
		r.printf("--- FAIL: %s %s (%.2fs)\n", ev.Package, ev.Test, ev.Elapsed)
		r.printOutput(r.output[k], "    ")
		r.end(k)
	case "skip":
		if ev.Test == "" {
			r.printf("?    %s\t[no test files]\n", ev.Package)
			delete(r.output, k)
			return
		}
		r.skipped++
		name := ev.Package + "." + ev.Test
		allowed := r.allow.matches(name)
		tag := "SKIP (not allowed)"
		if allowed {
			tag = "SKIP (allowed)"
		} else {
			r.badSkips = append(r.badSkips, name)
		}
		r.printf("--- %s: %s %s: %s\n", tag, ev.Package, ev.Test, skipReason(r.output[k]))
		r.end(k)
	}
}

func (r *report) timed(ev event) {
	if !strings.Contains(ev.Test, "/") {
		r.times = append(r.times, timing{ev.Package + "." + ev.Test, ev.Elapsed})
	}
}

func (r *report) end(k testKey) {
	delete(r.output, k)
	delete(r.running, k)
}

// printUnfinished shows the output of tests of pkg that never ended (the
// binary panicked or timed out under them).
func (r *report) printUnfinished(pkg string) {
	var names []string
	for k := range r.running {
		if k.pkg == pkg {
			names = append(names, k.test)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		k := testKey{pkg, n}
		r.printf("--- UNFINISHED: %s %s\n", pkg, n)
		r.printOutput(r.output[k], "    ")
		r.end(k)
	}
}

func (r *report) printOutput(lines []string, indent string) {
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "=== RUN") || strings.HasPrefix(t, "=== PAUSE") ||
			strings.HasPrefix(t, "=== CONT") || strings.HasPrefix(t, "=== NAME") ||
			strings.HasPrefix(t, "--- FAIL: ") {
			continue
		}
		r.printf("%s%s", indent, l)
		if !strings.HasSuffix(l, "\n") {
			r.printf("\n")
		}
	}
}

// finish prints the summary and reports whether the run is a success.
func (r *report) finish() bool {
	if r.slowest > 0 && len(r.times) > 0 {
		sort.Slice(r.times, func(i, j int) bool { return r.times[i].elapsed > r.times[j].elapsed })
		r.printf("\nslowest tests:\n")
		for _, t := range r.times[:min(r.slowest, len(r.times))] {
			r.printf("  %7.2fs  %s\n", t.elapsed, t.name)
		}
	}
	ok := true
	r.printf("\n")
	if len(r.buildFailed) > 0 {
		ok = false
		r.printf("did not build: %s\n", strings.Join(r.buildFailed, " "))
	}
	if len(r.failedPkgs) > 0 {
		ok = false
		r.printf("failed packages: %s\n", strings.Join(r.failedPkgs, " "))
	}
	if len(r.badSkips) > 0 {
		ok = false
		r.printf("skipped tests (a skip fails the run; fix the test or allow it in scripts/test):\n")
		for _, s := range r.badSkips {
			r.printf("  %s\n", s)
		}
	}
	if r.failed > 0 {
		ok = false
	}
	if r.passed+r.failed == 0 {
		ok = false
		r.printf("no test ran\n")
	}
	r.printf("tests: %d passed, %d failed, %d skipped\n", r.passed, r.failed, r.skipped)
	return ok
}
