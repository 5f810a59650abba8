package device_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/device"
)

func TestReconfirm(t *testing.T) {
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	week := 7 * 24 * time.Hour
	r := device.Reconfirm{Period: 4 * week}
	for _, tc := range []struct {
		name      string
		b         device.Binding
		now       time.Time
		wantSince time.Time
		wantDue   bool
	}{
		{"new binding", device.Binding{CreatedAt: t0}, t0, t0, false},
		{"just before the end", device.Binding{CreatedAt: t0}, t0.Add(4*week - time.Millisecond), t0, false},
		{"at the end", device.Binding{CreatedAt: t0}, t0.Add(4 * week), t0, true},
		{"confirmed later", device.Binding{CreatedAt: t0, ConfirmedAt: t0.Add(3 * week)}, t0.Add(4 * week), t0.Add(3 * week), false},
		{"confirmed later, due again", device.Binding{CreatedAt: t0, ConfirmedAt: t0.Add(3 * week)}, t0.Add(7 * week), t0.Add(3 * week), true},
		{"confirmation before the binding (restored data) counts as the binding", device.Binding{CreatedAt: t0, ConfirmedAt: t0.Add(-week)}, t0.Add(4*week - time.Second), t0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := device.Since(tc.b); !got.Equal(tc.wantSince) {
				t.Errorf("Since %v, want %v", got, tc.wantSince)
			}
			if got := r.By(tc.b); !got.Equal(tc.wantSince.Add(4 * week)) {
				t.Errorf("By %v", got)
			}
			if got := r.Due(tc.b, tc.now); got != tc.wantDue {
				t.Errorf("Due %v, want %v", got, tc.wantDue)
			}
		})
	}
	if got := (device.Reconfirm{}).By(device.Binding{CreatedAt: t0}); !got.Equal(t0.Add(device.DefaultReconfirmPeriod)) {
		t.Errorf("default By %v", got)
	}
	for _, tc := range []struct{ high, offered, want bool }{
		{false, false, false}, {false, true, false}, {true, false, false}, {true, true, true},
	} {
		if got := device.WithEID(tc.high, tc.offered); got != tc.want {
			t.Errorf("WithEID(%v, %v) = %v", tc.high, tc.offered, got)
		}
	}
}
