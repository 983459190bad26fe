// Package progress draws a one-line progress bar on a terminal, and
// nothing when the output is not a terminal (a file, a pipe, a buffer).
package progress

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// Bar is a progress bar labelled with what is in progress.
type Bar struct {
	w       io.Writer
	label   string
	last    time.Time
	enabled bool
	drew    bool
}

// New returns a bar that draws on w when w is a terminal, e.g.
// New(os.Stderr, "copying").
func New(w io.Writer, label string) *Bar {
	return &Bar{w: w, label: label, enabled: IsTerminal(w)}
}

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Step draws n of total done, at most every 100 ms and always at the end.
func (p *Bar) Step(n, total int) {
	if !p.enabled || total == 0 || (time.Since(p.last) < 100*time.Millisecond && n < total) {
		return
	}
	p.last = time.Now()
	const width = 30
	fill := width * n / total
	fmt.Fprintf(p.w, "\r%s [%s%s] %d/%d", p.label, strings.Repeat("#", fill), strings.Repeat(".", width-fill), n, total)
	p.drew = true
}

// Done ends the bar's line, if it drew one.
func (p *Bar) Done() {
	if p.drew {
		fmt.Fprintln(p.w)
	}
}
