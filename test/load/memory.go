package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// ServerMemory is the server's resident memory during a run, read from
// /proc/PID/status (Linux): VmRSS sampled every sampleEvery from the start
// of the timer to its end, and VmHWM at the end, the kernel's high-water
// mark of VmRSS since the process started (so it includes the seeding).
// The kernel updates the high-water mark lazily (when memory is unmapped),
// so it may lag a sampled peak by a little.
type ServerMemory struct {
	PID        int     `json:"pid"`
	Samples    int     `json:"samples"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	EndRSSMiB  float64 `json:"end_rss_mib"`
	HWMMiB     float64 `json:"hwm_mib"`
}

const sampleEvery = 50 * time.Millisecond

// procMemory is what /proc/PID/status says about resident memory, in KiB.
type procMemory struct {
	RSS, HWM uint64
}

// readProcMemory reads VmRSS and VmHWM of pid.
func readProcMemory(pid int) (procMemory, error) {
	if runtime.GOOS != "linux" {
		return procMemory{}, errors.New("--server-pid reads /proc/PID/status and works on Linux only")
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return procMemory{}, fmt.Errorf("--server-pid %d: %w", pid, err)
	}
	return parseProcStatus(raw)
}

// parseProcStatus reads the VmRSS and VmHWM lines ("VmRSS:  12345 kB").
func parseProcStatus(raw []byte) (procMemory, error) {
	var m procMemory
	var found int
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return procMemory{}, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil {
			return procMemory{}, fmt.Errorf("%s: %w", key, err)
		}
		if key == "VmRSS" {
			m.RSS = n
		} else {
			m.HWM = n
		}
		found++
	}
	if found != 2 {
		return procMemory{}, errors.New("no VmRSS and VmHWM lines (a kernel thread, or a process that has ended)")
	}
	return m, nil
}

// memorySampler samples a process's VmRSS until stopped.
type memorySampler struct {
	pid  int
	stop context.CancelFunc
	done chan ServerMemory
}

// sampleMemory starts sampling pid; the first read must succeed.
func sampleMemory(pid int) (*memorySampler, error) {
	first, err := readProcMemory(pid)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &memorySampler{pid: pid, stop: stop, done: make(chan ServerMemory, 1)}
	go func() {
		peak, last, n := first.RSS, first, 1
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				if m, err := readProcMemory(pid); err == nil {
					last, n = m, n+1
					peak = max(peak, m.RSS)
				}
				s.done <- ServerMemory{PID: pid, Samples: n, PeakRSSMiB: mib(peak), EndRSSMiB: mib(last.RSS), HWMMiB: mib(last.HWM)}
				return
			case <-t.C:
			}
			if m, err := readProcMemory(pid); err == nil {
				last, n = m, n+1
				peak = max(peak, m.RSS)
			}
		}
	}()
	return s, nil
}

// finish takes a last sample and returns the figures.
func (s *memorySampler) finish() ServerMemory {
	s.stop()
	return <-s.done
}

func mib(kib uint64) float64 { return float64(kib) / 1024 }
