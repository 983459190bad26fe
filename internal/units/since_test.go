package units

import (
	"strings"
	"testing"
	"time"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"24h":                  now.Add(-24 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"7d":                   now.Add(-7 * 24 * time.Hour),
		"2w":                   now.Add(-14 * 24 * time.Hour),
		"1h30m":                now.Add(-90 * time.Minute),
		"2025-01-02T03:04:05Z": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	} {
		got, err := ParseSince(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if got, err := ParseSince("2025-01-02", now); err != nil || got.Format("2006-01-02 15:04") != "2025-01-02 00:00" {
		t.Errorf("date: %v, %v", got, err)
	}
	for _, bad := range []string{"", "yesterday", "-5h", "99999999999d", "876000w", "5 days"} {
		if _, err := ParseSince(bad, now); err == nil {
			t.Errorf("ParseSince(%q) accepted", bad)
		}
	}
}

// FuzzParseSince: --since never panics, and what it accepts is not after
// now unless it is an explicit date.
func FuzzParseSince(f *testing.F) {
	for _, s := range []string{"24h", "7d", "2w", "1h30m", "2025-01-02", "2025-01-02T03:04:05Z", "", "-1h", "9999999999999999999d", "876000w", "5217w"} {
		f.Add(s)
	}
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseSince(s, now)
		if err != nil {
			return
		}
		if got.After(now) && !strings.Contains(s, "-") {
			t.Fatalf("ParseSince(%q) = %v, after now", s, got)
		}
	})
}

func TestParseInstant(t *testing.T) {
	now := time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"":                     now,
		" 0 ":                  now,
		"1700000000":           time.Unix(1700000000, 0).UTC(),
		"2025-01-02":           time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC),
		"2025-01-02T03:04:05Z": time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		"-1h":                  now.Add(-time.Hour),
	} {
		got, err := ParseInstant(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("ParseInstant(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"soon", "2025-13-01", "-5"} {
		if _, err := ParseInstant(bad, now); err == nil {
			t.Errorf("ParseInstant(%q) accepted", bad)
		}
	}
}
