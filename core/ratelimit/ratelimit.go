package ratelimit

import (
	"slices"
	"time"
)

// Buckets is how many buckets one window is cut into.
const Buckets = 10

// Bucket is one bucket's count: the events of the bucket that starts at
// Start (Unix milliseconds).
type Bucket struct {
	Start int64
	Hits  int64
}

// Span is where the buckets of a window lie for one instant.
type Span struct {
	// Size is the length of a bucket in milliseconds: a tenth of the
	// window, at least 1.
	Size int64
	// Current is the start of the bucket that contains now; From the start
	// of the oldest bucket that still counts (Buckets buckets earlier).
	Current, From int64
	now           int64
}

// SpanOf returns the span of window at now. window must be at least a
// millisecond.
func SpanOf(now time.Time, window time.Duration) Span {
	size := max(window.Milliseconds()/Buckets, 1)
	t := now.UnixMilli()
	cur := t - ((t%size)+size)%size // floor, also before 1970
	return Span{Size: size, Current: cur, From: cur - Buckets*size, now: t}
}

// ExpiresAt is when a bucket that starts at start no longer counts, in
// Unix milliseconds: once now has left the Buckets buckets after it.
func (s Span) ExpiresAt(start int64) int64 { return start + (Buckets+1)*s.Size }

// Total is the count of the buckets that count at the span's instant;
// buckets outside it are ignored.
func (s Span) Total(bs []Bucket) int64 {
	var n int64
	for _, b := range bs {
		if b.Start >= s.From && b.Start <= s.Current {
			n += b.Hits
		}
	}
	return n
}

// Until returns how long, with no further events, until the total of bs is
// at most limit (0 when it is already): the oldest buckets stop counting
// one after the other. A negative limit is never reached; Until then
// returns the time until every bucket is forgotten.
func (s Span) Until(bs []Bucket, limit int) time.Duration {
	total := s.Total(bs)
	if total <= int64(limit) {
		return 0
	}
	counted := slices.DeleteFunc(slices.Clone(bs), func(b Bucket) bool { return b.Start < s.From || b.Start > s.Current })
	slices.SortFunc(counted, func(a, b Bucket) int { return int(a.Start - b.Start) })
	var at int64
	for _, b := range counted {
		total -= b.Hits
		at = s.ExpiresAt(b.Start)
		if total <= int64(limit) && limit >= 0 {
			break
		}
	}
	return time.Duration(at-s.now) * time.Millisecond
}
