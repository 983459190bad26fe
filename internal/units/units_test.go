package units

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"-1", -1},
		{"0", 0},
		{"1024", 1024},
		{"1MB", 1_000_000},
		{"1mb", 1_000_000},
		{"1 MB", 1_000_000},
		{"1M", 1_000_000},
		{"10GB", 10_000_000_000},
		{"512K", 512_000},
		{"512k", 512_000},
		{"1KiB", 1024},
		{"1Ki", 1024},
		{"1MiB", 1 << 20},
		{"2GiB", 2 << 30},
		{"1.5MB", 1_500_000},
		{"1TB", 1_000_000_000_000},
		{"7EiB", 7 << 60},
		{"9223372036854775807", 9223372036854775807},
		{" 5B ", 5},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil {
			t.Errorf("ParseSize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseSize(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestParseSizeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "empty"},
		{"   ", "empty"},
		{"-2", "negative"},
		{"-1MB", "negative"},
		{"MB", "not a number"},
		{"1XB", "unknown unit"},
		{"1.2.3", "not a number"},
		{".5MB", "not a number"},
		{"5.MB", "not a number"},
		{"1.5", "whole number"},
		{"1.0001K", "whole number"},
		{"8EiB", "too large"},
		{"9223372036854775808", "too large"},
		{"99999999999999999999GB", "too large"},
		{"1e5", "unknown unit"},
		{"0x10", "unknown unit"},
		{"ten", "not a number"},
		{strings.Repeat("1", 100), "too long"},
	}
	for _, tt := range tests {
		_, err := ParseSize(tt.in)
		if err == nil {
			t.Errorf("ParseSize(%q) succeeded, want error containing %q", tt.in, tt.want)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseSize(%q) = %v, want ErrSyntax containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseCount(t *testing.T) {
	for in, want := range map[string]int64{"1000": 1000, "-1": -1, "1K": 1000, "0": 0} {
		got, err := ParseCount(in)
		if err != nil || got != want {
			t.Errorf("ParseCount(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseCount("ten"); err == nil || !strings.Contains(err.Error(), "count") {
		t.Errorf("ParseCount(ten) = %v, want a count error", err)
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{-1, "unlimited"},
		{0, "0 B"},
		{1_000_000, "1 MB"},
		{10_000_000_000, "10 GB"},
		{1 << 20, "1 MiB"},
		{512 * 1024, "512 KiB"},
		{1500, "1500 B"},
		{1_500_000, "1500 KB"},
	}
	for _, tt := range tests {
		if got := FormatSize(tt.in); got != tt.want {
			t.Errorf("FormatSize(%d) = %q, want %q", tt.in, got, tt.want)
		}
	}
	for _, n := range []int64{1, 999, 1000, 1024, 1 << 40, 3_000_000_000} {
		s := FormatSize(n)
		back, err := ParseSize(s)
		if err != nil || back != n {
			t.Errorf("ParseSize(FormatSize(%d) = %q) = %d, %v", n, s, back, err)
		}
	}
}

func TestParseExpiry(t *testing.T) {
	now := time.Date(2025, 1, 31, 10, 20, 30, 500, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"0", time.Time{}},
		{"", time.Time{}},
		{"0d", time.Time{}},
		{"90m", time.Date(2025, 1, 31, 11, 50, 30, 0, time.UTC)},
		{"2h", time.Date(2025, 1, 31, 12, 20, 30, 0, time.UTC)},
		{"30s", time.Date(2025, 1, 31, 10, 21, 0, 0, time.UTC)},
		{"30d", time.Date(2025, 3, 2, 10, 20, 30, 0, time.UTC)},
		{"2w", time.Date(2025, 2, 14, 10, 20, 30, 0, time.UTC)},
		{"3M", time.Date(2025, 5, 1, 10, 20, 30, 0, time.UTC)}, // Apr 31 normalises to May 1, as time.AddDate
		{"1y", time.Date(2026, 1, 31, 10, 20, 30, 0, time.UTC)},
		{"-1d", time.Date(2025, 1, 30, 10, 20, 30, 0, time.UTC)},
		{"2030-06-15", time.Date(2030, 6, 15, 0, 0, 0, 0, time.UTC)},
		{"2030-06-15 12:00:00 UTC", time.Date(2030, 6, 15, 12, 0, 0, 0, time.UTC)},
		{"2030-06-15T12:00:00+02:00", time.Date(2030, 6, 15, 10, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, err := ParseExpiry(tt.in, now)
		if err != nil {
			t.Errorf("ParseExpiry(%q): %v", tt.in, err)
			continue
		}
		if !got.Equal(tt.want) {
			t.Errorf("ParseExpiry(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseExpiryMinutesVersusMonths(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	m, _ := ParseExpiry("1m", now)
	M, _ := ParseExpiry("1M", now)
	if m.Sub(now) != time.Minute {
		t.Errorf("1m = %v after now, want one minute", m.Sub(now))
	}
	if M.Month() != time.February {
		t.Errorf("1M = %v, want a month later", M)
	}
}

func TestParseExpiryErrors(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct{ in, want string }{
		{"soon", "not 0, yyyy-mm-dd"},
		{"30", "unknown unit"},
		{"30x", "unknown unit"},
		{"d", "not 0, yyyy-mm-dd"},
		{"1.5d", "not 0, yyyy-mm-dd"},
		{"+3d", "not 0, yyyy-mm-dd"},
		{"2025-13-01", "not a valid date"},
		{"2025-02-30", "not a valid date"},
		{"1969-12-31", "outside"},
		{"-100y", "outside"},
		{"99999y", "out of range"},
		{"9223372036854775807s", "out of range"},
		{"9000y", "outside"},
		{strings.Repeat("9", 80) + "d", "too long"},
	}
	for _, tt := range tests {
		_, err := ParseExpiry(tt.in, now)
		if err == nil {
			t.Errorf("ParseExpiry(%q) succeeded, want error containing %q", tt.in, tt.want)
			continue
		}
		if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseExpiry(%q) = %v, want ErrSyntax containing %q", tt.in, err, tt.want)
		}
	}
}

func TestParseTTL(t *testing.T) {
	for in, want := range map[string]time.Duration{"5s": 5 * time.Second, "250ms": 250 * time.Millisecond, "0s": 0, "2m": 2 * time.Minute} {
		got, err := ParseTTL(in)
		if err != nil || got != want {
			t.Errorf("ParseTTL(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5", "-5s", "five", "5d"} {
		if _, err := ParseTTL(in); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseTTL(%q) = %v, want ErrSyntax", in, err)
		}
	}
}

func TestFormatTime(t *testing.T) {
	if got := FormatTime(0, "never"); got != "never" {
		t.Errorf("FormatTime(0) = %q", got)
	}
	if got := FormatTime(1893456000, "never"); got != "2030-01-01 00:00:00 UTC" {
		t.Errorf("FormatTime = %q", got)
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1MB", "10GB", "512K", "1KiB", "-1", "0", "1.5MB", "9223372036854775807", "8EiB", "1 mib"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseSize(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if n < -1 {
			t.Fatalf("ParseSize(%q) = %d, below -1", s, n)
		}
		back, err := ParseSize(FormatSize(n))
		if n >= 0 && (err != nil || back != n) {
			t.Fatalf("round trip of %d via %q = %d, %v", n, FormatSize(n), back, err)
		}
	})
}

func FuzzParseCount(f *testing.F) {
	for _, s := range []string{"1000", "-1", "1K", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseCount(s)
		if err == nil && n < -1 {
			t.Fatalf("ParseCount(%q) = %d", s, n)
		}
	})
}

func FuzzParseExpiry(f *testing.F) {
	for _, s := range []string{"0", "30d", "2w", "3M", "1y", "90m", "2030-01-02", "-1d", "2030-01-02T15:04:05Z", "9999y"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseExpiry(s, now)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseExpiry(%q) error %v does not wrap ErrSyntax", s, err)
			}
			return
		}
		if got.IsZero() {
			return
		}
		if got.Unix() < 0 || got.Year() > maxYear {
			t.Fatalf("ParseExpiry(%q) = %v, out of range", s, got)
		}
	})
}

func FuzzParseTTL(f *testing.F) {
	for _, s := range []string{"5s", "1h", "-1s", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseTTL(s)
		if err == nil && d < 0 {
			t.Fatalf("ParseTTL(%q) = %v", s, d)
		}
	})
}
