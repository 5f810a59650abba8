package store

import (
	"context"

	"github.com/pforte-id/pforte/core/audit"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/member"
)

// MemberSearch finds members in the directory for support staff, who
// know a caller's name and date of birth but not always the KVNR.
type MemberSearch interface {
	// MembersByBirthDate returns the members born on birthDate
	// (YYYY-MM-DD, member.Member.BirthDate), ordered by KVNR, at most
	// limit (none when limit < 1). Errors: Unavailable.
	MembersByBirthDate(ctx context.Context, birthDate string, limit int) ([]member.Member, error)
}

// AuditQuery reads the audit log across accounts, by time range and kind.
type AuditQuery interface {
	// QueryAudit returns the events q selects (audit.Query), newest first
	// (by Time, then ID descending), at most q.Limit (none when
	// q.Limit < 1). Errors: Unavailable.
	QueryAudit(ctx context.Context, q audit.Query) ([]audit.Event, error)
}

// ClientUpdates changes a stored client atomically (support's client
// edit and secret rotation).
type ClientUpdates interface {
	// UpdateClient changes client id under its row lock: f gets the
	// stored client and changes it; when f returns an error, nothing is
	// written and that error is returned as it is. Two concurrent updates
	// of one client are serialised: the second f sees the first's result.
	// CreatedAt stays. Errors: NotFound; Invalid (f changed the ID);
	// Unavailable.
	UpdateClient(ctx context.Context, id string, f func(c *client.Client) error) (client.Client, error)
}
