package ratelimit_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/ratelimit"
)

// base is a minute boundary in Unix milliseconds.
const base = 1_800_000_000_000 - 1_800_000_000_000%60_000

func TestSpanOf(t *testing.T) {
	s := ratelimit.SpanOf(time.UnixMilli(base+65_432), time.Minute)
	if s.Size != 6_000 || s.Current != base+60_000 || s.From != base {
		t.Fatalf("span %+v", s)
	}
	if got := s.ExpiresAt(base); got != base+66_000 {
		t.Errorf("ExpiresAt = %d, want %d", got, base+66_000)
	}
	if s := ratelimit.SpanOf(time.UnixMilli(-1), 5*time.Millisecond); s.Size != 1 || s.Current != -1 {
		t.Errorf("a window shorter than %d ms: %+v", ratelimit.Buckets, s)
	}
}

func TestTotalAndUntil(t *testing.T) {
	now := time.UnixMilli(base + 65_432)
	s := ratelimit.SpanOf(now, time.Minute)
	bs := []ratelimit.Bucket{
		{Start: base - 6_000, Hits: 9}, // too old
		{Start: base, Hits: 2},         // counts until base+66 s
		{Start: base + 30_000, Hits: 1},
		{Start: base + 60_000, Hits: 1},
	}
	if got := s.Total(bs); got != 4 {
		t.Fatalf("Total = %d, want 4", got)
	}
	for _, tc := range []struct {
		limit int
		until time.Duration
	}{
		{4, 0},
		{3, 568 * time.Millisecond}, // the bucket at base stops counting at base+66 s
		{1, 568*time.Millisecond + 30*time.Second},  // then the one at base+30 s
		{0, 568*time.Millisecond + 60*time.Second},  // then the current one
		{-1, 568*time.Millisecond + 60*time.Second}, // never: until all are forgotten
	} {
		if got := s.Until(bs, tc.limit); got != tc.until {
			t.Errorf("Until(%d) = %v, want %v", tc.limit, got, tc.until)
		}
	}
}

// TestNoSpanHoldsMoreThanTheLimit is the property the rule exists for:
// events allowed one by one at random instants never exceed the limit in
// any span of one window length, in particular not around a boundary,
// where a fixed window lets twice the limit through.
func TestNoSpanHoldsMoreThanTheLimit(t *testing.T) {
	const limit = 5
	window := time.Minute
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 200 {
		var buckets []ratelimit.Bucket
		var allowed []int64
		now := int64(base)
		for range 300 {
			now += r.Int64N(4_000)
			s := ratelimit.SpanOf(time.UnixMilli(now), window)
			// Hit: count the event, then decide.
			if n := len(buckets); n > 0 && buckets[n-1].Start == s.Current {
				buckets[n-1].Hits++
			} else {
				buckets = append(buckets, ratelimit.Bucket{Start: s.Current, Hits: 1})
			}
			if s.Total(buckets) <= limit {
				allowed = append(allowed, now)
			}
		}
		for i := range allowed {
			j := i
			for j < len(allowed) && allowed[j]-allowed[i] < window.Milliseconds() {
				j++
			}
			if j-i > limit {
				t.Fatalf("round %d: %d events allowed within %v from %d ms", round, j-i, window, allowed[i]-base)
			}
		}
	}
}

// TestUntilIsExact: after Until the total is within the limit, and a
// millisecond earlier it is not.
func TestUntilIsExact(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	window := 10 * time.Second
	for range 2000 {
		now := int64(base) + r.Int64N(20_000)
		var bs []ratelimit.Bucket
		for start := now - now%1000 - 12_000; start <= now; start += 1000 {
			if r.IntN(2) == 0 {
				bs = append(bs, ratelimit.Bucket{Start: start, Hits: r.Int64N(4)})
			}
		}
		limit := r.IntN(6)
		s := ratelimit.SpanOf(time.UnixMilli(now), window)
		d := s.Until(bs, limit)
		later := ratelimit.SpanOf(time.UnixMilli(now).Add(d), window)
		if later.Total(bs) > int64(limit) {
			t.Fatalf("total %d > %d after Until = %v", later.Total(bs), limit, d)
		}
		if d > 0 {
			before := ratelimit.SpanOf(time.UnixMilli(now).Add(d-time.Millisecond), window)
			if before.Total(bs) <= int64(limit) {
				t.Fatalf("within %d already before Until = %v", limit, d)
			}
		}
	}
}
