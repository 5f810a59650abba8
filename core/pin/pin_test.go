package pin_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

func TestCheck(t *testing.T) {
	const birth = "1985-03-14"
	for p, want := range map[string]fault.Code{
		"583920": "", "904417": "",
		"12345": pin.CodeFormat, "1234567": pin.CodeFormat, "12a456": pin.CodeFormat, "": pin.CodeFormat, "１２３４５６": pin.CodeFormat,
		"000000": pin.CodeRepeated, "777777": pin.CodeRepeated,
		"123456": pin.CodeSequence, "234567": pin.CodeSequence, "890123": pin.CodeSequence, "654321": pin.CodeSequence, "109876": pin.CodeSequence,
		"121212": pin.CodeCommon, "123123": pin.CodeCommon, "112233": pin.CodeCommon, "147258": pin.CodeCommon,
		"140385": pin.CodeBirthDate, "850314": pin.CodeBirthDate, "031485": pin.CodeBirthDate, "031985": pin.CodeBirthDate,
		"198503": pin.CodeBirthDate, "403198": pin.CodeBirthDate,
	} {
		err := pin.Check(p, birth)
		if (err == nil) != (want == "") {
			t.Errorf("Check(%q) = %v, want code %q", p, err, want)
		}
		if code, _ := fault.CodeOf(err); err != nil && (!errors.Is(err, fault.Invalid) || code != want) {
			t.Errorf("Check(%q): %v, want kind Invalid and code %q", p, err, want)
		}
	}
	if err := pin.Check("140385", ""); err != nil {
		t.Errorf("without a birth date on file 140385 is fine: %v", err)
	}
}

func TestHasher(t *testing.T) {
	k1, k2 := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	h1, err := pin.NewHasher(1, pin.Pepper{Version: 1, Key: k1})
	if err != nil {
		t.Fatal(err)
	}
	stored := h1.Hash("binding-1", "583920")
	if strings.Contains(stored, "583920") || !strings.HasPrefix(stored, "v1:") {
		t.Fatalf("stored form %q", stored)
	}
	if ok, stale := h1.Verify("binding-1", "583920", stored); !ok || stale {
		t.Fatalf("right PIN: ok=%v stale=%v", ok, stale)
	}
	if ok, _ := h1.Verify("binding-1", "583921", stored); ok {
		t.Fatal("wrong PIN accepted")
	}
	if ok, _ := h1.Verify("binding-2", "583920", stored); ok {
		t.Fatal("hash moved to another binding accepted")
	}
	// Rotation: version 2 is current, version 1 still verifies and is stale.
	h2, err := pin.NewHasher(2, pin.Pepper{Version: 1, Key: k1}, pin.Pepper{Version: 2, Key: k2})
	if err != nil {
		t.Fatal(err)
	}
	if ok, stale := h2.Verify("binding-1", "583920", stored); !ok || !stale {
		t.Fatalf("old version: ok=%v stale=%v", ok, stale)
	}
	if ok, stale := h2.Verify("binding-1", "583920", h2.Hash("binding-1", "583920")); !ok || stale {
		t.Fatalf("new version: ok=%v stale=%v", ok, stale)
	}
	// A pepper that is gone cannot verify, and nothing verifies garbage.
	h3, _ := pin.NewHasher(2, pin.Pepper{Version: 2, Key: k2})
	for _, s := range []string{stored, "", "v2", "v2:", "vx:abc", "583920"} {
		if ok, _ := h3.Verify("binding-1", "583920", s); ok {
			t.Errorf("Verify accepted %q", s)
		}
	}
	if _, err := pin.NewHasher(3, pin.Pepper{Version: 1, Key: k1}); err == nil {
		t.Error("missing current version accepted")
	}
	if _, err := pin.NewHasher(1, pin.Pepper{Version: 1, Key: []byte("short")}); err == nil {
		t.Error("short pepper accepted")
	}
}

func TestTryDelaysAndBlocks(t *testing.T) {
	p := pin.DefaultPolicy
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	wrong := func() bool { return false }
	var c pin.Counter
	steps := []struct {
		advance   time.Duration
		evaluated bool
		failures  int
		remaining int
		delay     time.Duration
		kind      fault.Kind
	}{
		{0, true, 1, 4, 0, fault.Unauthenticated},
		{0, true, 2, 3, 0, fault.Unauthenticated},
		{0, true, 3, 2, time.Minute, fault.Unauthenticated},
		{30 * time.Second, false, 3, 2, 0, fault.RateLimited}, // still delayed: not evaluated
		{31 * time.Second, true, 4, 1, 5 * time.Minute, fault.Unauthenticated},
		{5 * time.Minute, true, 5, 0, 0, fault.Locked},
		{time.Hour, false, 5, 0, 0, fault.Locked}, // blocked stays blocked
	}
	codes := map[fault.Kind]fault.Code{fault.Unauthenticated: pin.CodeWrong, fault.RateLimited: pin.CodeWait, fault.Locked: pin.CodeBlocked}
	for i, st := range steps {
		now = now.Add(st.advance)
		calls := 0
		a := p.Try(c, now, func() bool { calls++; return wrong() })
		if a.Evaluated != st.evaluated || calls != map[bool]int{true: 1, false: 0}[st.evaluated] ||
			a.Next.Failures != st.failures || a.Remaining != st.remaining || fault.KindOf(a.Err("pin.Try", now)) != st.kind {
			t.Fatalf("step %d: %+v calls=%d err=%v", i+1, a, calls, a.Err("pin.Try", now))
		}
		wait := st.delay
		if st.kind == fault.RateLimited {
			wait = 30 * time.Second // the rest of the minute
		}
		var e *fault.Error
		if !errors.As(a.Err("pin.Try", now), &e) || e.Code != codes[st.kind] || e.Remaining != st.remaining ||
			e.RetryAfter != wait || (st.kind == fault.Unauthenticated && e.Params[0] != st.remaining) {
			t.Fatalf("step %d: error %+v, want code %q, %d left, retry after %v", i+1, e, codes[st.kind], st.remaining, wait)
		}
		if st.delay > 0 && !a.RetryAt.Equal(now.Add(st.delay)) {
			t.Fatalf("step %d: retry at %v, want %v", i+1, a.RetryAt, now.Add(st.delay))
		}
		c = a.Next
	}
}

func TestTryCorrectResets(t *testing.T) {
	p := pin.DefaultPolicy
	now := time.Now()
	c := pin.Counter{Failures: 2}
	a := p.Try(c, now, func() bool { return true })
	if !a.OK || a.Err("pin.Try", now) != nil || a.Next != (pin.Counter{}) || a.Remaining != 5 {
		t.Fatalf("correct PIN: %+v", a)
	}
}

// BenchmarkCheckPIN is the PIN part of every app login and device
// management request: the attempt rule around a constant-time comparison
// of the HMAC under the current pepper.
func BenchmarkCheckPIN(b *testing.B) {
	h, err := pin.NewHasher(1, pin.Pepper{Version: 1, Key: []byte(strings.Repeat("k", 32))})
	if err != nil {
		b.Fatal(err)
	}
	const binding = "3bc0d4f6b7e94a59a2ff0f9b1c3e2d11"
	stored := h.Hash(binding, "470815")
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		a := pin.DefaultPolicy.Try(pin.Counter{Failures: 2}, now, func() bool {
			ok, _ := h.Verify(binding, "470815", stored)
			return ok
		})
		if !a.OK {
			b.Fatal("the right PIN was refused")
		}
	}
}
