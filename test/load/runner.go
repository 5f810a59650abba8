package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Workload is one kind of request the tool repeats. Setup runs once before
// the timer (seeding, a first token); Do is one measured operation and
// must be safe for concurrent use.
type Workload interface {
	Setup(ctx context.Context) error
	Do(ctx context.Context) error
}

// errExhausted, returned by Do, ends the run early without counting the
// operation: a workload that uses up what it was given (the registration
// of each member once) says so with it.
var errExhausted = errors.New("nothing left to do")

// Result is the outcome of a run.
type Result struct {
	Workload    string           `json:"workload"`
	Issuer      string           `json:"issuer"`
	Concurrency int              `json:"concurrency"`
	TargetRate  float64          `json:"target_rate,omitempty"`
	Elapsed     time.Duration    `json:"-"`
	ElapsedSec  float64          `json:"elapsed_s"`
	Requests    uint64           `json:"requests"`
	OK          uint64           `json:"ok"`
	Failed      uint64           `json:"failed"`
	Throughput  float64          `json:"throughput_per_s"`
	Latency     LatencySummary   `json:"latency_ms"`
	Errors      map[string]int64 `json:"errors"`
	// ErrorExamples holds the message of one error of each kind of
	// Errors, to tell what went wrong (a message may name a member
	// number, never a secret).
	ErrorExamples map[string]string `json:"error_examples,omitempty"`
	// Ended says why the run ended before its duration or count.
	Ended string `json:"ended,omitempty"`
	// Steps are the latencies of the steps of an operation, for the
	// workloads that time them (of the steps that completed).
	Steps []StepSummary `json:"steps,omitempty"`
	// Argon2 compares a password-login run with the machine's ceiling.
	Argon2 *Argon2Ceiling `json:"argon2_ceiling,omitempty"`
	// Server is the server's memory and CPU during the run (--server-pid).
	Server *ServerUsage `json:"server,omitempty"`
}

// StepSummary is the latency of one step of the operations.
type StepSummary struct {
	Step    string         `json:"step"`
	Count   uint64         `json:"count"`
	Latency LatencySummary `json:"latency_ms"`
}

// LatencySummary is in milliseconds, of successful and failed operations
// alike.
type LatencySummary struct {
	Min  float64 `json:"min"`
	Mean float64 `json:"mean"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
}

// run drives w with cfg's concurrency until the duration passes or the
// request count is reached. With a target rate, operations start on a
// fixed schedule shared by all workers (open model, bounded by the
// concurrency); latency is measured from the actual start.
func run(ctx context.Context, cfg Config, w Workload) Result {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	limit := cfg.Duration
	if cfg.Requests > 0 {
		limit = maxDuration // a count is bounded in time too
	}
	ctx, stop := context.WithTimeout(ctx, limit)
	defer stop()
	var (
		issued      atomic.Uint64
		mu          sync.Mutex
		total       histogram
		errs        = map[string]int64{}
		errExamples = map[string]string{}
		failed      uint64
		ended       atomic.Pointer[string]
		wg          sync.WaitGroup
	)
	start := time.Now()
	var interval time.Duration
	if cfg.Rate > 0 {
		interval = time.Duration(float64(time.Second) / cfg.Rate)
	}
	for range cfg.Concurrency {
		wg.Go(func() {
			h := new(histogram)
			mine := map[string]int64{}
			examples := map[string]string{}
			var myFailed uint64
			for ctx.Err() == nil {
				i := issued.Add(1)
				if cfg.Requests > 0 && i > cfg.Requests {
					break
				}
				if interval > 0 {
					at := start.Add(time.Duration(i-1) * interval)
					if d := time.Until(at); d > 0 {
						t := time.NewTimer(d)
						select {
						case <-ctx.Done():
							t.Stop()
						case <-t.C:
						}
						if ctx.Err() != nil {
							break
						}
					}
				}
				t0 := time.Now()
				err := w.Do(ctx)
				if errors.Is(err, errExhausted) {
					msg := err.Error()
					ended.CompareAndSwap(nil, &msg)
					break // the others finish what they began, then find nothing either
				}
				if err != nil && ctx.Err() != nil && cfg.Requests == 0 {
					break // cut off by the end of the run: not counted
				}
				h.record(time.Since(t0))
				if err != nil {
					myFailed++
					k := classify(err)
					if mine[k]++; mine[k] == 1 {
						examples[k] = err.Error()
					}
				}
			}
			mu.Lock()
			total.merge(h)
			for k, v := range mine {
				errs[k] += v
			}
			for k, v := range examples {
				if _, ok := errExamples[k]; !ok {
					errExamples[k] = v
				}
			}
			failed += myFailed
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	r := Result{
		Workload: cfg.Workload, Issuer: cfg.Issuer, Concurrency: cfg.Concurrency, TargetRate: cfg.Rate,
		Elapsed: elapsed, ElapsedSec: elapsed.Seconds(), Requests: total.n, Failed: failed, OK: total.n - failed,
		Errors: errs, Latency: total.summary(),
	}
	if len(errExamples) > 0 {
		r.ErrorExamples = errExamples
	}
	if msg := ended.Load(); msg != nil {
		r.Ended = *msg
	}
	if elapsed > 0 {
		r.Throughput = float64(r.OK) / elapsed.Seconds()
	}
	return r
}

// summary is h in milliseconds.
func (h *histogram) summary() LatencySummary {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	return LatencySummary{
		Min: ms(time.Duration(h.min) * time.Microsecond), Mean: ms(h.mean()),
		P50: ms(h.percentile(0.50)), P90: ms(h.percentile(0.90)), P99: ms(h.percentile(0.99)),
		Max: ms(time.Duration(h.max) * time.Microsecond),
	}
}

// stepTimes collects the latency of each step of the operations, in the
// order the steps were first seen. It is safe for concurrent use (one
// lock: the workloads that time steps run at most a few hundred
// operations per second).
type stepTimes struct {
	mu    sync.Mutex
	order []string
	h     map[string]*histogram
}

func (s *stepTimes) record(step string, d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.h == nil {
		s.h = map[string]*histogram{}
	}
	h := s.h[step]
	if h == nil {
		h = new(histogram)
		s.h[step] = h
		s.order = append(s.order, step)
	}
	h.record(d)
}

// reset forgets what was recorded (before the timer starts).
func (s *stepTimes) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.order, s.h = nil, nil
}

func (s *stepTimes) summary() []StepSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []StepSummary
	for _, name := range s.order {
		out = append(out, StepSummary{Step: name, Count: s.h[name].n, Latency: s.h[name].summary()})
	}
	return out
}

// print writes r for a person.
func (r Result) print(out io.Writer) {
	fmt.Fprintf(out, "workload     %s against %s\n", r.Workload, r.Issuer)
	fmt.Fprintf(out, "concurrency  %d", r.Concurrency)
	if r.TargetRate > 0 {
		fmt.Fprintf(out, ", target %.1f/s", r.TargetRate)
	}
	fmt.Fprintf(out, "\nrequests     %d in %.2fs: %d ok, %d failed\n", r.Requests, r.ElapsedSec, r.OK, r.Failed)
	if r.Ended != "" {
		fmt.Fprintf(out, "ended early  %s\n", r.Ended)
	}
	fmt.Fprintf(out, "throughput   %.1f/s (successful operations)\n", r.Throughput)
	l := r.Latency
	fmt.Fprintf(out, "latency ms   p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (min %.2f, mean %.2f)\n", l.P50, l.P90, l.P99, l.Max, l.Min, l.Mean)
	if len(r.Steps) > 0 {
		fmt.Fprintln(out, "steps (ms)")
		width := 0
		for _, s := range r.Steps {
			width = max(width, len(s.Step))
		}
		for _, s := range r.Steps {
			l := s.Latency
			fmt.Fprintf(out, "  %-*s  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (mean %.2f, %d)\n", width, s.Step, l.P50, l.P90, l.P99, l.Max, l.Mean, s.Count)
		}
	}
	if a := r.Argon2; a != nil {
		fmt.Fprintf(out, "argon2id     ceiling %.1f/s (%d cores ÷ %.2f ms per hash, one hash per login): %.0f%% reached\n", a.CeilingPerSec, a.Cores, a.HashMS, 100*a.Reached)
	}
	if m := r.Server; m != nil {
		fmt.Fprintf(out, "server RSS   peak %.1f MiB, at the end %.1f MiB (pid %d, %d samples); VmHWM %.1f MiB (peak since the process started)\n", m.PeakRSSMiB, m.EndRSSMiB, m.PID, m.Samples, m.HWMMiB)
		fmt.Fprintf(out, "CPU          server %.2f cores, this tool %.2f cores (CPU time ÷ the run's duration)\n", m.CPUCores, m.ToolCPUCores)
	}
	if len(r.Errors) > 0 {
		fmt.Fprintln(out, "errors")
		for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
			fmt.Fprintf(out, "  %8d  %s\n", r.Errors[k], k)
			if ex := r.ErrorExamples[k]; ex != "" {
				fmt.Fprintf(out, "            for example: %s\n", ex)
			}
		}
	}
}
