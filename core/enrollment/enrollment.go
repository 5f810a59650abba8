package enrollment

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/proof"
)

// TTL is how long an enrollment session lasts.
const TTL = 30 * time.Minute

// Session is one enrollment. The app holds a bearer token for it; the
// store keeps the token's hash.
type Session struct {
	ID        string
	TokenHash string
	AccountID string
	KVNR      kvnr.KVNR
	Method    proof.Method
	CreatedAt time.Time
	ExpiresAt time.Time
	// PasswordSetAt is when the member set their own password.
	PasswordSetAt time.Time
	// CompletedAt is when every step was done and the account activated.
	CompletedAt time.Time
	// TransferID is set for a session a device transfer opened (the old
	// phone approved the new one, device.Transfer): it binds one key and
	// sets its PIN for an account that is active already. It has no
	// password step (PasswordSetAt is its start) and takes no password,
	// and completing it leaves the account's status as it is. Method is
	// then empty: no identity was proven in it.
	TransferID string
}

// Transfer reports whether the session was opened by a device transfer.
func (s Session) Transfer() bool { return s.TransferID != "" }

// Open reports whether the session can still take steps at now.
func (s Session) Open(now time.Time) bool {
	return s.CompletedAt.IsZero() && now.Before(s.ExpiresAt)
}
