package session_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/session"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	pwd := session.DefaultPolicy.New(loa.Authentication{Subject: "a", Time: t0}, loa.Low, []string{loa.AMRPassword}, "", "s", t0)
	app := session.DefaultPolicy.New(loa.Authentication{Subject: "a", Time: t0, BindingID: "b"}, loa.Substantial,
		[]string{loa.AMRPassword, loa.AMRHardware, loa.AMRPIN, loa.AMRMulti}, "", "s", t0)
	ended := app.End(session.EndLogout, t0)
	ten := 10 * time.Minute
	zero := time.Duration(0)
	now := t0.Add(5 * time.Minute)
	tests := []struct {
		name string
		s    *session.Session
		q    session.Request
		want session.Verdict
	}{
		{"no session", nil, session.Request{Level: loa.Low}, session.Login},
		{"ended", &ended, session.Request{Level: loa.Low}, session.Login},
		{"low answers low", &pwd, session.Request{Level: loa.Low, Proofing: loa.Substantial}, session.Answer},
		{"low steps up to substantial", &pwd, session.Request{Level: loa.Substantial, Proofing: loa.Substantial}, session.StepUp},
		{"low cannot step up beyond proofing", &pwd, session.Request{Level: loa.Substantial, Proofing: loa.Low}, session.Login},
		{"substantial answers substantial", &app, session.Request{Level: loa.Substantial, Proofing: loa.Substantial}, session.Answer},
		{"high needs the eID proofing", &app, session.Request{Level: loa.High, Proofing: loa.Substantial}, session.Login},
		{"high after an eID proofing steps up", &pwd, session.Request{Level: loa.High, Proofing: loa.High}, session.StepUp},
		{"prompt=login", &app, session.Request{Level: loa.Low, Prompt: []string{"login"}}, session.Login},
		{"max_age within", &app, session.Request{Level: loa.Low, MaxAge: &ten}, session.Answer},
		{"max_age=0", &app, session.Request{Level: loa.Low, MaxAge: &zero}, session.Login},
		{"another member named", &app, session.Request{Level: loa.Low, OtherMember: true}, session.Login},
	}
	for _, tt := range tests {
		if got := session.Decide(tt.s, tt.q, now); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	if session.Decide(&app, session.Request{Level: loa.Low}, t0.Add(session.DefaultPolicy.Idle)) != session.Login {
		t.Error("a session idle for Policy.Idle still answers")
	}
}

func TestIdleAndAbsoluteEnd(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	p := session.DefaultPolicy
	s := p.New(loa.Authentication{Subject: "a", Time: t0}, loa.Low, []string{loa.AMRPassword}, "", "s", t0)
	at := t0
	for at.Before(t0.Add(p.Absolute - p.Idle)) {
		at = at.Add(p.Idle - time.Minute)
		if !s.Active(at) {
			t.Fatalf("a session used every %v ended at %v", p.Idle-time.Minute, at.Sub(t0))
		}
		s = s.Touch(p, at)
	}
	if s.Active(t0.Add(p.Absolute)) {
		t.Fatal("a session in constant use outlived its absolute time")
	}
	if !s.IdleUntil.After(at) || s.IdleUntil.After(s.ExpiresAt) {
		t.Fatalf("IdleUntil %v past ExpiresAt %v", s.IdleUntil, s.ExpiresAt)
	}
	if err := (session.Policy{Idle: time.Hour, Absolute: time.Minute}).Validate(); err == nil {
		t.Fatal("an absolute time shorter than the idle time was accepted")
	}
	if _, err := s.StepUp(loa.Authentication{Subject: "b"}, loa.High, nil); err == nil {
		t.Fatal("another member's login raised the session")
	}
}
