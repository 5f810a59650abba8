package main

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	var h histogram
	for i := 1; i <= 10_000; i++ { // 1 µs .. 10 ms
		h.record(time.Duration(i) * time.Microsecond)
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0.5, 5 * time.Millisecond}, {0.9, 9 * time.Millisecond}, {0.99, 9900 * time.Microsecond}, {1, 10 * time.Millisecond}} {
		got := h.percentile(c.p)
		if diff := got - c.want; diff < -c.want/50 || diff > c.want/50 {
			t.Errorf("p%v = %v, want %v ± 2%%", c.p*100, got, c.want)
		}
	}
	if h.max != 10_000 || h.min != 1 || h.n != 10_000 {
		t.Fatalf("min %d max %d n %d", h.min, h.max, h.n)
	}
	// Small values are exact; huge ones land in the last bucket.
	var s histogram
	s.record(7 * time.Microsecond)
	s.record(100 * time.Hour)
	if s.percentile(0.5) != 7*time.Microsecond || s.percentile(1) != 100*time.Hour {
		t.Fatalf("p50 %v p100 %v", s.percentile(0.5), s.percentile(1))
	}
	var m histogram
	m.merge(&s)
	m.merge(&h)
	if m.n != h.n+s.n || m.min != 1 || m.max != s.max {
		t.Fatalf("merge: n %d min %d max %d", m.n, m.min, m.max)
	}
	if (&histogram{}).percentile(0.99) != 0 {
		t.Fatal("empty histogram")
	}
}

func TestBucketsAreMonotonic(t *testing.T) {
	last := -1
	for v := uint64(0); v < 1<<24; v = v*9/8 + 1 {
		b := bucketOf(v)
		if b < last || b >= histBuckets {
			t.Fatalf("bucketOf(%d) = %d after %d", v, b, last)
		}
		if mid := bucketValue(b); float64(mid) < float64(v)*0.98 || float64(mid) > float64(v)*1.02+1 {
			t.Fatalf("bucketValue(bucketOf(%d)) = %d", v, mid)
		}
		last = b
	}
}

func TestFlagBounds(t *testing.T) {
	base := []string{"--issuer", "http://127.0.0.1:8080", "--workload", "jwks"}
	for _, c := range []struct {
		args []string
		want string // "" : valid
	}{
		{base, ""},
		{[]string{"--issuer", "http://[::1]:8080", "--workload", "discovery"}, ""},
		{[]string{"--issuer", "http://localhost:8080", "--workload", "discovery"}, ""},
		{[]string{"--issuer", "https://login.example.org", "--workload", "jwks"}, "loopback"},
		{[]string{"--issuer", "https://login.example.org", "--workload", "jwks", "--allow-remote"}, ""},
		{[]string{"--issuer", "ftp://127.0.0.1", "--workload", "jwks"}, "http(s)"},
		{[]string{"--workload", "jwks"}, "--issuer"},
		{append(base, "--concurrency", "513"), "--concurrency"},
		{append(base, "--concurrency", "0"), "--concurrency"},
		{append(base, "--concurrency", "512"), ""},
		{append(base, "--duration", "10m1s"), "--duration"},
		{append(base, "--duration", "10m"), ""},
		{append(base, "--requests", "100", "--duration", "1h"), ""},
		{append(base, "--requests", "100000", "--rate", "10"), "longer"},
		{append(base, "--rate", "-1"), "--rate"},
		{append(base, "--auth-method", "private_key_jwt"), "--auth-method"},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "password-login"}, "web client"},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "password-login", "--client-id", "f", "--web-redirect-uri", "http://127.0.0.1:9/cb"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "password-login", "--client-id", "f", "--web-redirect-uri", "http://127.0.0.1:9/cb", "--argon2-ms", "16.3"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "password-login", "--client-id", "f", "--web-redirect-uri", "http://127.0.0.1:9/cb", "--argon2-ms", "16", "--cores", "0"}, "--cores"},
		{append(base, "--argon2-ms", "16"), "for password-login"},
		{append(base, "--web-redirect-uri", "http://127.0.0.1:9/cb"), "for password-login"},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "registration"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "transfer"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "pin-change"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "admin-status"}, "scope admin"},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "admin-status", "--client-id", "support"}, ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "admin-status", "--client-id", "support", "--agent", ""}, "--agent"},
		{append(base, "--server-pid", "-1"), "--server-pid"},
		{append(base, "--server-pid", "1"), ""},
		{[]string{"--issuer", "http://127.0.0.1", "--workload", "nope"}, "unknown workload"},
		{[]string{"--generate-members", "10"}, "--out"},
		{[]string{"--generate-members", "1000000", "--out", "x.csv"}, ""},
		{[]string{"--generate-members", "1000001", "--out", "x.csv"}, "--generate-members"},
		{append(base, "--members", "100001"), "--members"},
		{append(base, "--replica", "http://127.0.0.1:8081", "--replica", "http://127.0.0.1:8082"), ""},
		{append(base, "--replica", "http://127.0.0.1:8081/path"), "--replica"},
		{append(base, "--replica", "127.0.0.1:8081"), "--replica"},
		{append(base, "--replica", "https://login.example.org"), "loopback"},
		{append(base, "--allow-remote", "--replica", "https://login.example.org"), ""},
	} {
		_, err := parseFlags(c.args, &bytes.Buffer{})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%v: %v", c.args, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%v: err %v, want one about %s", c.args, err, c.want)
		}
	}
}

func TestUsageNamesWorkloads(t *testing.T) {
	var errOut bytes.Buffer
	if code := realMain(t.Context(), []string{"--help"}, &bytes.Buffer{}, &errOut); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, w := range append(workloadNames, "--server-pid", "--argon2-ms", "--web-redirect-uri", "--agent") {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("usage lacks %q", w)
		}
	}
	if strings.Contains(errOut.String(), "not yet") {
		t.Errorf("usage names a workload that is not there:\n%s", errOut.String())
	}
}

func TestParseProcStatus(t *testing.T) {
	status := "Name:\tpforte\nVmPeak:\t 1300000 kB\nVmHWM:\t   81234 kB\nVmRSS:\t   61234 kB\nThreads:\t9\n"
	m, err := parseProcStatus([]byte(status))
	if err != nil || m.RSS != 61234 || m.HWM != 81234 {
		t.Fatalf("%+v %v", m, err)
	}
	for _, bad := range []string{"Name:\tkthreadd\nThreads:\t1\n", "VmHWM:\t12 kB\nVmRSS:\t12 MB\n", "VmHWM:\t12 kB\nVmRSS:\tx kB\n"} {
		if _, err := parseProcStatus([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// The command name may hold spaces and parentheses.
	stat := "4711 (pforte (x) y) S 1 4711 4711 0 -1 4194560 100 0 0 0 250 37 0 0 20 0 9 0 1234 1300000000 20000 18446744073709551615\n"
	d, err := parseProcStat([]byte(stat))
	if err != nil || d != 2870*time.Millisecond {
		t.Fatalf("%v %v, want 2.87s", d, err)
	}
	for _, bad := range []string{"4711 pforte S 1", "4711 (pforte) S 1 2 3", "4711 (p) S 1 4711 4711 0 -1 4194560 100 0 0 0 x 37 0"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
