package logoutjob

import (
	"math/rand/v2"
	"time"
)

// Job is one logout token owed to one relying party (OpenID Connect
// Back-Channel Logout 1.0): the session that ended and the member's sub
// as that client knows it. The token itself is signed at each attempt,
// so that it is fresh (iat, exp, jti) whenever it is sent.
type Job struct {
	ID string
	// SessionID is the sid of the ended session, as the client's ID
	// tokens carried it.
	SessionID string
	ClientID  string
	// Subject is the sub the client received for the member (pairwise
	// where the client has a sector).
	Subject string
	// AccountID is the member's account, for the audit trail; it is never
	// sent to the client (Subject is).
	AccountID string
	// CreatedAt is when the session ended; the job is given up a
	// configured time after it.
	CreatedAt time.Time
	// DueAt is the earliest time of the next attempt.
	DueAt time.Time
	// Attempts counts the deliveries begun, this one included once the
	// job is claimed.
	Attempts int
	// LastError is the reason the last attempt failed (no secret, no
	// token): "status 503", "timeout", …; empty before the first failure.
	LastError string
}

// Backoff is the retry rule of failed deliveries: the wait after the
// n-th failed attempt is First·2^(n-1), at most Max, of which a random
// part up to a half is taken off (jitter), so that the deliveries of one
// mass logout to a relying party that was down do not all come back at
// the same moment.
type Backoff struct {
	First, Max time.Duration
}

// Next returns when the job may be tried again after its attempts-th
// attempt failed at now, but never after giveUpAt: the last attempt
// happens at the deadline, not a whole wait before it.
func (b Backoff) Next(attempts int, now, giveUpAt time.Time) time.Time {
	d := b.First
	for i := 1; i < attempts && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	// Up to half of the wait is taken off: the wait stays at least half
	// of its nominal value, so that the backoff still grows.
	if half := d / 2; half > 0 {
		d -= rand.N(half + 1)
	}
	next := now.Add(d)
	if next.After(giveUpAt) {
		next = giveUpAt
	}
	return next
}
