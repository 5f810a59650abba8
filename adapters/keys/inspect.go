package keys

import (
	"context"
	"fmt"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
)

// Inspect lists the stored signing keys, oldest first, and checks that
// master opens the private part of every key that signs or will sign
// (next and active), exactly as a starting server opens them. Unlike New
// it changes nothing: it creates no key and applies no due rotation, so
// an operator can run it against a live deployment (`pforte doctor`).
// Errors: Invalid for a master key of the wrong size; Unavailable when
// the store is; Internal naming the first key that does not open (a wrong
// master key) or is malformed, with the keys listed so far.
func Inspect(ctx context.Context, st store.SigningKeys, master []byte) ([]KeyInfo, error) {
	const op = "keys.Inspect"
	if err := CheckMaster(master); err != nil {
		return nil, err
	}
	sealer, err := NewSealer(DeriveKey(master, PurposeSigningKeys))
	if err != nil {
		return nil, err
	}
	ks, err := st.ListSigningKeys(ctx)
	if err != nil {
		return nil, fault.Wrap(fault.KindOf(err), op, err)
	}
	r := &Ring{sealer: sealer}
	out := make([]KeyInfo, 0, len(ks))
	for i := range ks {
		k := &ks[i]
		if _, err := r.load(k, nil); err != nil {
			what := "is malformed"
			if k.State == signkey.Next || k.State == signkey.Active {
				what = "does not open with this master key, or is malformed"
			}
			return out, fault.Wrap(fault.Internal, op, fmt.Errorf("signing key %q: %w", k.ID, err)).
				WithPublic(fmt.Sprintf("the %s signing key %s %s", k.State, k.ID, what))
		}
		out = append(out, KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State,
			CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt})
	}
	return out, nil
}
