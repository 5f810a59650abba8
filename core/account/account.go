package account

import (
	"time"

	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
)

// Status is the lifecycle state of an account.
type Status string

const (
	// Pending: created by proofing, not yet activated.
	Pending Status = "pending"
	// Active: may log in.
	Active Status = "active"
	// Blocked: may not log in until an operator or re-proofing unblocks it.
	Blocked Status = "blocked"
)

// Account is one member's login account.
type Account struct {
	// ID is the stable, opaque subject identifier (never the KVNR).
	ID   string
	KVNR kvnr.KVNR
	// PasswordHash is the PHC-encoded Argon2id hash; empty when no password is set.
	PasswordHash string
	Status       Status
	// Proofing is the level at which the member's identity was proven.
	Proofing  loa.Level
	CreatedAt time.Time
	UpdatedAt time.Time
}

// CanLogIn reports whether the account may authenticate at all.
func (a Account) CanLogIn() bool { return a.Status == Active }
