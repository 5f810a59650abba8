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

// ServerUsage is what the server used during a run, read from /proc
// (Linux): VmRSS of /proc/PID/status sampled every sampleEvery from the
// start of the timer to its end, and VmHWM at the end, the kernel's
// high-water mark of VmRSS since the process started (so it includes the
// seeding). The kernel updates the high-water mark lazily (when memory is
// unmapped), so it may lag a sampled peak by a little. CPUCores is the
// server's CPU time during the run (utime + stime of /proc/PID/stat) ÷ the
// run's duration, ToolCPUCores the same of this tool: on a machine both
// share, the cores the tool takes are not the server's.
type ServerUsage struct {
	PID          int     `json:"pid"`
	Samples      int     `json:"samples"`
	PeakRSSMiB   float64 `json:"peak_rss_mib"`
	EndRSSMiB    float64 `json:"end_rss_mib"`
	HWMMiB       float64 `json:"hwm_mib"`
	CPUCores     float64 `json:"cpu_cores"`
	ToolCPUCores float64 `json:"tool_cpu_cores"`
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

// clockTicks is USER_HZ, the unit of the times in /proc/PID/stat: 100 on
// every Linux architecture Go runs on.
const clockTicks = 100

// readProcCPU returns the CPU time (user + system) pid has used.
func readProcCPU(pid string) (time.Duration, error) {
	raw, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStat(raw)
}

// parseProcStat reads utime and stime, fields 14 and 15 of
// /proc/PID/stat; the command name (field 2) is in parentheses and may
// hold spaces and parentheses itself.
func parseProcStat(raw []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, errors.New("no command name in /proc/PID/stat")
	}
	f := strings.Fields(string(raw[i+1:])) // f[0] is field 3
	if len(f) < 13 {
		return 0, errors.New("short /proc/PID/stat")
	}
	var ticks uint64
	for _, s := range f[11:13] {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/PID/stat: %w", err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// memorySampler samples a process's VmRSS until stopped.
type memorySampler struct {
	pid  int
	stop context.CancelFunc
	done chan ServerUsage
}

// sampleMemory starts sampling pid; the first read must succeed.
func sampleMemory(pid int) (*memorySampler, error) {
	first, err := readProcMemory(pid)
	if err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s := &memorySampler{pid: pid, stop: stop, done: make(chan ServerUsage, 1)}
	start := time.Now()
	cpu0, err1 := readProcCPU(strconv.Itoa(pid))
	tool0, err2 := readProcCPU("self")
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
				u := ServerUsage{PID: pid, Samples: n, PeakRSSMiB: mib(peak), EndRSSMiB: mib(last.RSS), HWMMiB: mib(last.HWM)}
				elapsed := time.Since(start).Seconds()
				if cpu1, err := readProcCPU(strconv.Itoa(pid)); err == nil && err1 == nil {
					u.CPUCores = (cpu1 - cpu0).Seconds() / elapsed
				}
				if tool1, err := readProcCPU("self"); err == nil && err2 == nil {
					u.ToolCPUCores = (tool1 - tool0).Seconds() / elapsed
				}
				s.done <- u
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
func (s *memorySampler) finish() ServerUsage {
	s.stop()
	return <-s.done
}

func mib(kib uint64) float64 { return float64(kib) / 1024 }
