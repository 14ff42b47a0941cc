package wire

import (
	"testing"
	"time"
)

func TestParseBucketAndUntil(t *testing.T) {
	for in, want := range map[string]time.Duration{"": 24 * time.Hour, "1d": 24 * time.Hour, "7d": 7 * 24 * time.Hour,
		"6h": 6 * time.Hour, "90m": 90 * time.Minute, "500ms": 500 * time.Millisecond} {
		if got, err := ParseBucket(in); err != nil || got != want {
			t.Errorf("ParseBucket(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"0d", "-1d", "1.5d", "1x", "500us", "soon"} {
		if _, err := ParseBucket(bad); err == nil {
			t.Errorf("ParseBucket(%q): no error", bad)
		}
	}
	now := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"now":                       now,
		"now-10m":                   now.Add(-10 * time.Minute),
		"now-1d":                    now.Add(-24 * time.Hour),
		"2024-04-30":                time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC),
		"2024-04-30 08:30:00":       time.Date(2024, 4, 30, 8, 30, 0, 0, time.UTC),
		"2024-04-30T08:30:00.5Z":    time.Date(2024, 4, 30, 8, 30, 0, 500e6, time.UTC),
		"2024-04-30T10:30:00+02:00": time.Date(2024, 4, 30, 8, 30, 0, 0, time.UTC),
	} {
		if got, err := ParseUntil(in, now); err != nil || !got.Equal(want) {
			t.Errorf("ParseUntil(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"yesterday", "now+5m", "now-", "2024-13-01"} {
		if _, err := ParseUntil(bad, now); err == nil {
			t.Errorf("ParseUntil(%q): no error", bad)
		}
	}
}
