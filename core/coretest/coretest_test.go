package coretest_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/coretest"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/password"
)

func TestFixtureKVNRsAreValid(t *testing.T) {
	for _, k := range []kvnr.KVNR{coretest.Anna.KVNR, coretest.Bodo.KVNR, coretest.Carl.KVNR, coretest.Nobody} {
		if _, err := kvnr.Parse(k.String()); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
}

func TestPasswordHashVerifies(t *testing.T) {
	h, err := password.NewHasher(password.DefaultParams, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := h.Verify(context.Background(), coretest.Password, coretest.PasswordHash()); !ok || err != nil {
		t.Fatalf("the hash does not verify the password: %v %v", ok, err)
	}
	if ok, _, _ := h.Verify(context.Background(), coretest.Password+"x", coretest.PasswordHash()); ok {
		t.Fatal("the hash verifies another password")
	}
}

func TestLogConcurrentWriters(t *testing.T) {
	var l coretest.Log
	log := l.JSON()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { log.Debug("written") })
	}
	wg.Wait()
	if n := strings.Count(l.String(), `"msg":"written"`); n != 8 {
		t.Fatalf("%d lines, want 8:\n%s", n, l.String())
	}
	l.Text().Info("plain", "outcome", "ok")
	if !strings.Contains(l.String(), "outcome=ok") {
		t.Fatalf("no text line in\n%s", l.String())
	}
}

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	c := coretest.NewClock(t0)
	c.Advance(time.Minute)
	if got := c.Now(); !got.Equal(t0.Add(time.Minute)) {
		t.Fatalf("Now = %v, want %v", got, t0.Add(time.Minute))
	}
}
