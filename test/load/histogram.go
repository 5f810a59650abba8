package main

import (
	"math/bits"
	"time"
)

// histogram records latencies in microseconds in log-linear buckets, as an
// HDR histogram does: values below 128 µs exactly, larger ones with 64
// sub-buckets per power of two (relative error under 1.6%). Its memory is
// fixed however many samples it sees. It is not safe for concurrent use:
// each worker records into its own and the runner merges them.
type histogram struct {
	counts   [histBuckets]uint64
	n        uint64
	min, max uint64 // exact, µs
	sum      uint64
}

const (
	histSub     = 64
	histMaxExp  = 30 // 2^36 µs ≈ 19 hours: far beyond any bounded run
	histBuckets = histSub*(histMaxExp+1) + histSub
)

func bucketOf(v uint64) int {
	if v < 2*histSub {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v>>shift is in [64,128)
	if shift > histMaxExp {
		return histBuckets - 1
	}
	return histSub*shift + int(v>>shift)
}

// bucketValue is the middle of bucket i.
func bucketValue(i int) uint64 {
	if i < 2*histSub {
		return uint64(i)
	}
	shift := i/histSub - 1
	top := uint64(i - histSub*shift)
	lo := top << shift
	return lo + (uint64(1)<<shift)/2
}

func (h *histogram) record(d time.Duration) {
	v := uint64(max(d, 0) / time.Microsecond)
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	h.max = max(h.max, v)
	h.n++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
	h.sum += o.sum
}

// percentile is the latency below which the fraction p (0 < p ≤ 1) of the
// samples lie, clamped to the exact minimum and maximum.
func (h *histogram) percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(p*float64(h.n) + 0.5)
	rank = max(1, min(rank, h.n))
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			if i == histBuckets-1 { // overflow: only the maximum is known
				return time.Duration(h.max) * time.Microsecond
			}
			v := min(max(bucketValue(i), h.min), h.max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.max) * time.Microsecond
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum/h.n) * time.Microsecond
}
