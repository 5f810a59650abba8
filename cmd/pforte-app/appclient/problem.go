package appclient

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// Problem is an RFC 9457 problem document the app API answered with.
type Problem struct {
	Status int
	Kind   string
	// Code is the stable machine-readable code of the refusal (empty when
	// the answer had none), e.g. device.reconfirm_password.
	Code       string
	Detail     string
	RetryAfter string // the Retry-After header, if any
	// PINAttemptsRemaining and PINRetryAt are the headers of a refused
	// release PIN (Pforte-PIN-Attempts-Remaining, Pforte-PIN-Retry-At):
	// the wrong entries left before the device is blocked, and when the
	// next entry is evaluated.
	PINAttemptsRemaining string
	PINRetryAt           string
}

// Error is what the member sees: the server's text (German / English),
// the kind and the status, then what the PIN headers say.
func (p *Problem) Error() string {
	s := fmt.Sprintf("%s (%s, HTTP %d)", p.Detail, p.Kind, p.Status)
	if n, ok := p.AttemptsRemaining(); ok {
		s += fmt.Sprintf("; PIN attempts left before the device is blocked: %d", n)
	}
	retry := ""
	if p.RetryAfter != "" {
		if n, err := strconv.Atoi(p.RetryAfter); err == nil {
			retry = fmt.Sprintf("%d seconds", n)
		} else {
			retry = p.RetryAfter
		}
	}
	if t, err := time.Parse(time.RFC3339, p.PINRetryAt); err == nil {
		s += "; next PIN entry from " + t.Local().Format("2006-01-02 15:04:05 MST")
		if retry != "" {
			s += " (in " + retry + ")"
		}
	} else if retry != "" {
		s += "; retry after " + retry
	}
	switch p.Code {
	case CodeReconfirmPassword:
		s += " (pforte-app reconfirm: Gerät mit dem Passwort erneut bestätigen / confirm this device again with the password)"
	case CodeReconfirmEID:
		s += " (pforte-app step-up --reconfirm: Gerät mit dem Ausweis erneut bestätigen / confirm this device again with the ID card)"
	}
	return s
}

// Codes of the answers the app acts on itself: the device must be
// confirmed again before it logs in or approves.
const (
	CodeReconfirmPassword = "device.reconfirm_password"
	CodeReconfirmEID      = "device.reconfirm_eid"
)

// AttemptsRemaining returns the wrong PIN entries left before the device
// is blocked, when the answer said so.
func (p *Problem) AttemptsRemaining() (int, bool) {
	n, err := strconv.Atoi(p.PINAttemptsRemaining)
	return n, err == nil
}

// ReadProblem returns the problem document of an answer with header h and
// body raw, or nil when the answer is not one.
func ReadProblem(status int, h http.Header, raw []byte) *Problem {
	if mt, _, _ := mime.ParseMediaType(h.Get("Content-Type")); mt != "application/problem+json" {
		return nil
	}
	var doc struct {
		Title  string `json:"title"`
		Status int    `json:"status"`
		Detail string `json:"detail"`
		Kind   string `json:"kind"`
		Code   string `json:"code"`
	}
	if json.Unmarshal(raw, &doc) != nil {
		return nil
	}
	p := &Problem{Status: status, Kind: doc.Kind, Code: doc.Code, Detail: doc.Detail, RetryAfter: h.Get("Retry-After"),
		PINAttemptsRemaining: h.Get("Pforte-PIN-Attempts-Remaining"), PINRetryAt: h.Get("Pforte-PIN-Retry-At")}
	if p.Detail == "" {
		p.Detail = doc.Title
	}
	if p.Kind == "" {
		p.Kind = "unknown"
	}
	return p
}
