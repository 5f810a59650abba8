package member_test

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/member"
)

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestEligible(t *testing.T) {
	now := time.Date(2026, 11, 29, 15, 4, 5, 0, time.UTC)
	e := member.DefaultEligibility
	for _, tc := range []struct {
		name        string
		from, until string
		want        bool
	}{
		{"insured, open-ended", "2020-01-01", "", true},
		{"insured, ends later", "2020-01-01", "2027-01-01", true},
		{"starts today", "2026-11-29", "", true},
		{"starts in 21 days", "2026-12-20", "", true},
		{"starts in 22 days", "2026-12-21", "", false},
		{"ended today", "2020-01-01", "2026-11-29", true},
		{"ended 31 days ago", "2020-01-01", "2026-10-29", true},
		{"ended 32 days ago", "2020-01-01", "2026-10-28", false},
		{"no start date", "", "", false},
		{"end before start", "2026-11-01", "2026-10-01", false},
	} {
		m := member.Member{}
		if tc.from != "" {
			m.InsuredFrom = day(tc.from)
		}
		if tc.until != "" {
			m.InsuredUntil = day(tc.until)
		}
		if got := e.Eligible(m, now); got != tc.want {
			t.Errorf("%s: Eligible = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBirthDateMatches(t *testing.T) {
	m := member.Member{BirthDate: "1980-02-29"}
	for in, want := range map[string]bool{
		"1980-02-29": true, "29.02.1980": true, "1980-03-01": false, "29.2.1980": false, "": false, "1981-02-29": false,
	} {
		if got := m.BirthDateMatches(in); got != want {
			t.Errorf("BirthDateMatches(%q) = %v, want %v", in, got, want)
		}
	}
	if (member.Member{}).BirthDateMatches("1980-02-29") {
		t.Error("a member without a birth date matched")
	}
}

// Both windows are between 0 and a year.
func TestEligibilityValidate(t *testing.T) {
	year := member.MaxEligibilityWindow
	for _, tc := range []struct {
		e  member.Eligibility
		ok bool
	}{
		{member.DefaultEligibility, true},
		{member.Eligibility{}, true},
		{member.Eligibility{Ahead: year, Grace: year}, true},
		{member.Eligibility{Ahead: -1}, false},
		{member.Eligibility{Grace: -1}, false},
		{member.Eligibility{Ahead: year + 1}, false},
		{member.Eligibility{Grace: year + 1}, false},
	} {
		if err := tc.e.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.e, err, tc.ok)
		}
	}
}

func TestMayLogIn(t *testing.T) {
	now := time.Date(2026, 11, 29, 15, 4, 5, 0, time.UTC)
	e := member.DefaultEligibility
	for _, tc := range []struct {
		name           string
		until, removed string
		want           bool
	}{
		{"open-ended", "", "", true},
		{"ends later", "2027-01-01", "", true},
		{"ended 31 days ago", "2026-10-29", "", true},
		{"ended 32 days ago", "2026-10-28", "", false},
		{"left the file 31 days ago", "", "2026-10-29", true},
		{"left the file 32 days ago", "", "2026-10-28", false},
		{"ends later, but left the file 32 days ago", "2027-01-01", "2026-10-28", false},
		{"left the file today, ended long ago", "2025-01-01", "2026-11-29", false},
	} {
		m := member.Member{InsuredFrom: day("2020-01-01")}
		if tc.until != "" {
			m.InsuredUntil = day(tc.until)
		}
		if tc.removed != "" {
			m.RemovedAt = day(tc.removed).Add(13 * time.Hour)
		}
		if got := e.MayLogIn(m, now); got != tc.want {
			t.Errorf("%s: MayLogIn = %v, want %v", tc.name, got, tc.want)
		}
		err := e.CheckLogIn("test", m, now)
		if (err == nil) != tc.want {
			t.Errorf("%s: CheckLogIn = %v", tc.name, err)
		}
		if code, _ := fault.CodeOf(err); err != nil && (fault.KindOf(err) != fault.Forbidden || code != member.CodeEnded) {
			t.Errorf("%s: CheckLogIn = %v, want Forbidden %s", tc.name, err, member.CodeEnded)
		}
		if got := e.Eligible(m, now); got != tc.want {
			t.Errorf("%s: Eligible = %v, want %v", tc.name, got, tc.want)
		}
	}
	// A start in the future does not keep a member from logging in.
	if !e.MayLogIn(member.Member{InsuredFrom: day("2027-06-01")}, now) {
		t.Error("a member whose insurance starts later may not log in")
	}
}
