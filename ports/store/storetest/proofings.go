package storetest

import (
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/proof"
)

func newPending(stateHash string, created time.Time) proof.Pending {
	return proof.Pending{
		StateHash: stateHash,
		Method:    proof.EID,
		KVNR:      kvnrOf(1),
		Data:      []byte{0x00, '{', '"', 'n', '"', ':', 0xff, 0xfe, '}'},
		CreatedAt: created,
		ExpiresAt: created.Add(proof.PendingTTL),
		TokenHash: "token-hash-" + stateHash,
		ReturnURI: "https://app.example.de/eid?x=1",
		Challenge: "challenge-" + stateHash,
		AccountID: "acct-" + stateHash,
		BindingID: "bind-" + stateHash,
	}
}

func newConfirmed(codeHash string, created time.Time) proof.Confirmed {
	return proof.Confirmed{
		CodeHash:  codeHash,
		TokenHash: "token-hash-" + codeHash,
		Challenge: "challenge-" + codeHash,
		AccountID: "acct-" + codeHash,
		BindingID: "bind-" + codeHash,
		Proof: proof.Proof{
			Method: proof.EID, Level: loa.High, KVNR: kvnrOf(1),
			Attributes: proof.Attributes{GivenName: "Anna Maria", FamilyName: "Schmidt", BirthDate: "1984-07-09"},
			Evidence: proof.Evidence{
				Type: "electronic_id", Reference: "tx-" + codeHash, Issuer: "https://eid.example.de", Subject: "pseudonym-hash",
				IssuedAt: created.Add(-time.Second),
			},
			Time: created,
		},
		CreatedAt: created,
		ExpiresAt: created.Add(proof.ConfirmTTL),
	}
}

var proofingTests = []test[ProofingStore]{
	{"ConfirmAndTake", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		c := newConfirmed("code-1", t0)
		must(t, "ConfirmProofing", s.ConfirmProofing(ctx, c))
		dup := newConfirmed("code-1", t0.Add(time.Second))
		wantKind(t, "ConfirmProofing duplicate", s.ConfirmProofing(ctx, dup), fault.Conflict)
		got, err := s.TakeConfirmation(ctx, c.CodeHash, c.ExpiresAt.Add(-time.Millisecond))
		must(t, "TakeConfirmation just before expiry", err)
		equal(t, "confirmation", c, got)
		_, err = s.TakeConfirmation(ctx, c.CodeHash, t0)
		wantKind(t, "TakeConfirmation again (replayed)", err, fault.NotFound)
		_, err = s.TakeConfirmation(ctx, "code-nope", t0)
		wantKind(t, "TakeConfirmation unknown", err, fault.NotFound)
	}},
	{"ConfirmationExpired", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		c := newConfirmed("code-1", t0)
		must(t, "ConfirmProofing", s.ConfirmProofing(ctx, c))
		_, err := s.TakeConfirmation(ctx, c.CodeHash, c.ExpiresAt)
		wantKind(t, "TakeConfirmation at expiry", err, fault.Expired)
		_, err = s.TakeConfirmation(ctx, c.CodeHash, t0)
		wantKind(t, "TakeConfirmation after an expired try (it is gone)", err, fault.NotFound)

		old := newConfirmed("code-old", t0.Add(-time.Hour))
		live := newConfirmed("code-live", t0)
		must(t, "ConfirmProofing old", s.ConfirmProofing(ctx, old))
		must(t, "ConfirmProofing live", s.ConfirmProofing(ctx, live))
		n, err := s.DeleteExpired(ctx, t0)
		must(t, "DeleteExpired", err)
		if n != 1 {
			t.Errorf("DeleteExpired removed %d rows, want 1 (the old confirmation)", n)
		}
		_, err = s.TakeConfirmation(ctx, old.CodeHash, t0)
		wantKind(t, "TakeConfirmation of a deleted confirmation", err, fault.NotFound)
		got, err := s.TakeConfirmation(ctx, live.CodeHash, t0)
		must(t, "TakeConfirmation live", err)
		equal(t, "live confirmation", live, got)
	}},
	{"RaceTakeConfirmation", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		c := newConfirmed("code-race", t0)
		must(t, "ConfirmProofing", s.ConfirmProofing(ctx, c))
		got := make([]proof.Confirmed, N)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.TakeConfirmation(ctx, c.CodeHash, t0)
			return err
		})
		w := oneWinner(t, "TakeConfirmation", errs, fault.NotFound)
		equal(t, "the winner's confirmation", c, got[w])
	}},
	{"BeginAndTake", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		p := newPending("state-1", t0)
		must(t, "BeginProofing", s.BeginProofing(ctx, p))
		dup := newPending("state-1", t0.Add(time.Second))
		dup.KVNR = kvnrOf(2)
		wantKind(t, "BeginProofing duplicate", s.BeginProofing(ctx, dup), fault.Conflict)
		got, err := s.TakeProofing(ctx, p.StateHash, p.ExpiresAt.Add(-time.Millisecond))
		must(t, "TakeProofing just before expiry", err)
		equal(t, "proofing", p, got)
		_, err = s.TakeProofing(ctx, p.StateHash, t0)
		wantKind(t, "TakeProofing again", err, fault.NotFound)
		_, err = s.TakeProofing(ctx, "state-nope", t0)
		wantKind(t, "TakeProofing unknown", err, fault.NotFound)

		empty := proof.Pending{StateHash: "state-2", Method: proof.EID, KVNR: kvnrOf(3), ExpiresAt: t0.Add(time.Minute)}
		must(t, "BeginProofing without data", s.BeginProofing(ctx, empty))
		got, err = s.TakeProofing(ctx, empty.StateHash, t0)
		must(t, "TakeProofing without data", err)
		equal(t, "proofing without data", empty, got)
	}},
	{"Expired", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		p := newPending("state-1", t0)
		must(t, "BeginProofing", s.BeginProofing(ctx, p))
		_, err := s.TakeProofing(ctx, p.StateHash, p.ExpiresAt)
		wantKind(t, "TakeProofing at expiry", err, fault.Expired)
		_, err = s.TakeProofing(ctx, p.StateHash, t0)
		wantKind(t, "TakeProofing after an expired try (it is gone)", err, fault.NotFound)
	}},
	{"DeleteExpired", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		old := newPending("state-old", t0.Add(-time.Hour))
		edge := newPending("state-edge", t0.Add(-proof.PendingTTL)) // expires exactly at t0
		live := newPending("state-live", t0)
		for _, p := range []proof.Pending{old, edge, live} {
			must(t, "BeginProofing", s.BeginProofing(ctx, p))
		}
		n, err := s.DeleteExpired(ctx, t0)
		must(t, "DeleteExpired", err)
		if n != 1 {
			t.Errorf("DeleteExpired removed %d rows, want 1 (the old proofing)", n)
		}
		_, err = s.TakeProofing(ctx, old.StateHash, t0)
		wantKind(t, "TakeProofing of a deleted proofing", err, fault.NotFound)
		_, err = s.TakeProofing(ctx, edge.StateHash, t0)
		wantKind(t, "TakeProofing expiring now (kept by DeleteExpired)", err, fault.Expired)
		got, err := s.TakeProofing(ctx, live.StateHash, t0)
		must(t, "TakeProofing live", err)
		equal(t, "live proofing", live, got)
	}},
	{"RaceTake", func(t *testing.T, s ProofingStore) {
		ctx := t.Context()
		p := newPending("state-race", t0)
		must(t, "BeginProofing", s.BeginProofing(ctx, p))
		got := make([]proof.Pending, N)
		errs := race(func(i int) error {
			var err error
			got[i], err = s.TakeProofing(ctx, p.StateHash, t0)
			return err
		})
		w := oneWinner(t, "TakeProofing", errs, fault.NotFound)
		equal(t, "the winner's proofing", p, got[w])
	}},
}
