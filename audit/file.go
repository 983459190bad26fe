package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"sync"
)

// FileName is the name of the audit log a directory store keeps beside its
// JWT files. nats-server's directory resolver reads only *.jwt files.
const FileName = "audit.log"

// maxLine bounds one line of a log file; longer lines are reported as
// unreadable and skipped.
const maxLine = 64 << 10

// File is an append-only JSON-lines audit log: one Entry per line, created
// 0600. Each Append is a single write to a file opened with O_APPEND, so
// several processes may append to one file without interleaving lines.
type File struct {
	path string
	mu   sync.Mutex // one append at a time in this process
}

var (
	_ Log     = (*File)(nil)
	_ Batcher = (*File)(nil)
)

// NewFile returns the log kept in the file at path (created on first
// Append).
func NewFile(path string) *File { return &File{path: path} }

// Path returns the file's path.
func (f *File) Path() string { return f.path }

// Append writes e as one line.
func (f *File) Append(ctx context.Context, e Entry) error {
	return f.AppendAll(ctx, []Entry{e})
}

// AppendAll writes entries as lines, in one write.
func (f *File) AppendAll(_ context.Context, entries []Entry) error {
	var line []byte
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("audit log %s: encode entry: %w", f.path, err)
		}
		line = append(append(line, b...), '\n')
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	_, werr := fh.Write(line)
	cerr := fh.Close()
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("audit log %s: append: %w", f.path, err)
	}
	return nil
}

// Read returns the entries q selects, oldest first. A missing file is an
// empty log. Lines that are not audit entries (a torn write, an edit by
// hand) come back as ActionUnreadable entries naming the line.
func (f *File) Read(ctx context.Context, q Query) ([]Entry, error) {
	fh, err := os.Open(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer fh.Close()
	out, err := ReadLines(ctx, fh, f.path, q)
	if err != nil {
		return nil, fmt.Errorf("audit log %s: %w", f.path, err)
	}
	return out, nil
}

// ReadLines reads JSON-lines entries from r (name is used in the detail of
// unreadable lines) and returns those q selects, sorted by time.
func ReadLines(ctx context.Context, r io.Reader, name string, q Query) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 4096)
	var out []Entry
	for n := 1; ; n++ {
		if n%1024 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		line, tooLong, err := readLine(br)
		if errors.Is(err, io.EOF) && len(line) == 0 && !tooLong {
			break
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read line %d: %w", n, err)
		}
		if len(line) == 0 && !tooLong && err == nil {
			continue // blank line
		}
		var e Entry
		switch {
		case tooLong:
			out = append(out, unreadable(name, n, "longer than 64 KiB"))
		case json.Unmarshal(line, &e) != nil || e.Action == "" || e.Action == ActionUnreadable:
			out = append(out, unreadable(name, n, "not an audit entry"))
		case q.Match(e):
			out = append(out, e)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}

// readLine returns the next line without its newline. A line longer than
// maxLine is consumed and reported with tooLong.
func readLine(br *bufio.Reader) (line []byte, tooLong bool, err error) {
	for {
		chunk, isPrefix, err := br.ReadLine()
		if !tooLong {
			line = append(line, chunk...)
			if len(line) > maxLine {
				tooLong, line = true, nil
			}
		}
		if err != nil || !isPrefix {
			return line, tooLong, err
		}
	}
}

func unreadable(name string, n int, why string) Entry {
	return Entry{Action: ActionUnreadable, Detail: fmt.Sprintf("%s line %d: %s", name, n, why)}
}

// Memory is an audit log in memory, for the in-memory store and tests. It
// keeps the newest Max entries (default 100,000).
type Memory struct {
	// Max bounds the entries kept; 0 means 100,000.
	Max int

	mu      sync.Mutex
	entries []Entry
}

var _ Log = (*Memory)(nil)

// Append records e.
func (m *Memory) Append(_ context.Context, e Entry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	limit := m.Max
	if limit <= 0 {
		limit = 100_000
	}
	if len(m.entries) >= limit {
		m.entries = append(m.entries[:0:0], m.entries[len(m.entries)-limit+1:]...)
	}
	m.entries = append(m.entries, e)
	return nil
}

// Read returns the entries q selects, oldest first.
func (m *Memory) Read(_ context.Context, q Query) ([]Entry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Entry
	for _, e := range m.entries {
		if q.Match(e) {
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out, nil
}
