package proof

import (
	"strconv"
	"strings"
	"time"
)

// date is a date of birth whose day or month may be unknown (0). Identity
// documents write such dates when the civil register does not know them;
// they are never filled in.
type date struct {
	year, month, day int
}

// parseDate reads a possibly partial date of birth: YYYY-MM-DD, YYYYMMDD
// or DD.MM.YYYY, an unknown part written as 00, XX or spaces, or left out
// (YYYY-MM, YYYY, MM.YYYY). A day without a month is unknown too. The year
// must be known.
func parseDate(s string) (date, bool) {
	s = strings.TrimRight(s, " ")
	var y, m, d string
	switch {
	case strings.Contains(s, "."):
		parts := strings.Split(s, ".")
		switch len(parts) {
		case 3:
			d, m, y = parts[0], parts[1], parts[2]
		case 2:
			m, y = parts[0], parts[1]
		default:
			return date{}, false
		}
	case strings.Contains(s, "-"):
		parts := strings.Split(s, "-")
		switch len(parts) {
		case 3:
			y, m, d = parts[0], parts[1], parts[2]
		case 2:
			y, m = parts[0], parts[1]
		default:
			return date{}, false
		}
	case len(s) == 8:
		y, m, d = s[:4], s[4:6], s[6:]
	case len(s) == 6:
		y, m = s[:4], s[4:]
	default:
		y = s
	}
	var out date
	var ok bool
	if out.year, ok = part(y, 4, 1, 9999); !ok || out.year == 0 {
		return date{}, false
	}
	if out.month, ok = part(m, 2, 1, 12); !ok {
		return date{}, false
	}
	if out.day, ok = part(d, 2, 1, 31); !ok {
		return date{}, false
	}
	if out.month == 0 {
		out.day = 0
	}
	if out.day != 0 {
		t := time.Date(out.year, time.Month(out.month), out.day, 0, 0, 0, 0, time.UTC)
		if t.Day() != out.day {
			return date{}, false // 31 April, 29 February of a common year
		}
	}
	return out, true
}

// part reads one part of a date of width digits: 0 when unknown (empty,
// all zeros, all X or all spaces), its value when within lo..hi.
func part(s string, width, lo, hi int) (int, bool) {
	if strings.Trim(s, " ") == "" || strings.Trim(s, "0") == "" || strings.Trim(s, "Xx") == "" {
		return 0, len(s) <= width
	}
	if len(s) != width {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// compareDates compares two dates of birth on the parts both know: strong
// when both are complete and equal, partial when a part is unknown on
// either side and the known ones agree. ok is false when either is
// missing, malformed or has no year.
func compareDates(record, verified string) (g grade, ok bool) {
	r, ok1 := parseDate(record)
	v, ok2 := parseDate(verified)
	if !ok1 || !ok2 {
		return mismatch, false
	}
	g = strong
	for _, p := range [][2]int{{r.year, v.year}, {r.month, v.month}, {r.day, v.day}} {
		switch {
		case p[0] == 0 || p[1] == 0:
			g = partial
		case p[0] != p[1]:
			return mismatch, true
		}
	}
	return g, true
}
