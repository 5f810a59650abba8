package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lestrrat-go/jwx/v3/jwa"
	"github.com/lestrrat-go/jwx/v3/jwk"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/signkey"
	"github.com/pforte-id/pforte/ports/store"
	"github.com/pforte-id/pforte/ports/token"
)

var (
	_ token.Signer            = (*Ring)(nil)
	_ token.AssertionVerifier = (*AssertionVerifier)(nil)
)

// algorithm is the only signing algorithm of Pforte's own tokens.
const algorithm = "ES256"

// DefaultRefresh is how often a Ring reloads the key set from the store.
// It is the bound the README states for `pforte keys rotate`: every
// replica signs with the new key within DefaultRefresh of the rotation
// (plus one reload). A reload reads a handful of rows and opens only keys
// it has not opened yet, so a short interval costs little.
const DefaultRefresh = 5 * time.Second

// MaxRefresh bounds Config.Refresh. After one replica retires a key, the
// others keep signing with it until their next reload; core/signkey keeps a
// retired key published for MaxTokenLifetime plus one minute, so a reload
// interval above that minute could drop a key while tokens it signed late
// still live.
const MaxRefresh = time.Minute

// maxRounds bounds the decide-apply loop: a first start needs three rounds
// (create next, activate it with a new next, settled), a forced rotation
// without a next key as many.
const maxRounds = 5

// Config configures a Ring.
type Config struct {
	// Policy is the rotation rule (zero value: signkey.DefaultPolicy).
	Policy signkey.Policy
	// Refresh is how often the key set is reloaded from the store and due
	// rotations are applied (zero: DefaultRefresh).
	Refresh time.Duration
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.Policy == (signkey.Policy{}) {
		c.Policy = signkey.DefaultPolicy
	}
	if c.Refresh == 0 {
		c.Refresh = DefaultRefresh
	}
	return c
}

// Validate checks c (after WithDefaults): the refresh interval here, the
// rotation rule in signkey.Policy.Validate. Errors: Invalid.
func (c Config) Validate() error {
	if err := c.Policy.Validate(); err != nil {
		return err
	}
	const op = "keys.Config.Refresh"
	switch {
	case c.Refresh <= 0 || c.Refresh > MaxRefresh:
		return fault.New(fault.Invalid, op, fmt.Sprintf("keys.refresh must be in (0, %s]", MaxRefresh))
	case c.Policy.Publish < c.Refresh:
		// Other replicas learn of a next key only at their next reload; it
		// must not sign before all of them publish (and so accept) it.
		return fault.New(fault.Invalid, op, "keys.policy.publish must be at least keys.refresh")
	}
	return nil
}

// KeyInfo describes a signing key for operators; it never carries private
// parts.
type KeyInfo struct {
	ID          string
	Algorithm   string
	State       signkey.State
	CreatedAt   time.Time
	ActivatedAt time.Time // zero while next
	RetiredAt   time.Time // zero unless retired
}

// Ring holds Pforte's signing keys: it signs with the active key, verifies
// against every published key, serves the JWKS and rotates keys by the
// policy. All methods are safe for concurrent use; Sign, Verify and JWKS
// read an immutable snapshot and never touch the store.
type Ring struct {
	store  store.SigningKeys
	sealer *Sealer
	cfg    Config
	now    func() time.Time
	log    *slog.Logger

	// mu serialises reloads and rotations of this replica, so an older list
	// never replaces a newer snapshot.
	mu  sync.Mutex
	cur atomic.Pointer[keySet]

	verified *verifiedCache
}

// keySet is one immutable snapshot of the keys.
type keySet struct {
	active *signingKey                 // nil: no active key
	byID   map[string]*loadedKey       // every published key
	pubs   map[string]*ecdsa.PublicKey // kid → public key, for Verify
	jwks   []byte
	etag   string
	ids    string // published kids in JWKS order: the JWKS changes only when these do
}

// loadedKey is a key row parsed once and kept across reloads.
type loadedKey struct {
	id   string
	pub  *ecdsa.PublicKey
	priv *ecdsa.PrivateKey // nil for retired keys: they never sign again
}

// New loads the keys from st and, when the policy asks for changes (an empty
// store on first start, a due rotation), applies them; losing that race to
// another replica is fine. master is the 32-byte master key; the key that
// seals private keys is derived from it. now and log may be nil (time.Now,
// no logging).
// Errors: Invalid for a bad master key or config; Unavailable when the store
// is; Internal when a stored key does not open (wrong master key) or is
// malformed.
func New(ctx context.Context, st store.SigningKeys, master []byte, cfg Config, now func() time.Time, log *slog.Logger) (*Ring, error) {
	if err := CheckMaster(master); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sealer, err := NewSealer(DeriveKey(master, PurposeSigningKeys))
	if err != nil {
		return nil, err
	}
	r := &Ring{store: st, sealer: sealer, cfg: cfg, now: now, log: log, verified: newVerifiedCache()}
	if _, err := r.converge(ctx, false, "keys.New"); err != nil {
		return nil, err
	}
	if r.cur.Load().active == nil {
		return nil, fault.New(fault.Internal, "keys.New", "no active signing key after start")
	}
	return r, nil
}

// Rotate applies the policy now and reloads the keys. With force the next
// key takes over at once even if it has not been published for
// Policy.Publish (a suspected key compromise); the old active key stays
// published as retired until its tokens have expired. It returns what this
// replica changed: an empty plan when nothing was due, or when another
// replica rotated at the same moment (then that rotation stands for this
// one). Errors: Unavailable when the store is; Internal for a key that does
// not open.
func (r *Ring) Rotate(ctx context.Context, force bool) (signkey.Plan, error) {
	return r.converge(ctx, force, "keys.Rotate")
}

// Keys lists the stored keys, oldest first, for operators.
// Errors: Unavailable.
func (r *Ring) Keys(ctx context.Context) ([]KeyInfo, error) {
	ks, err := r.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fault.Wrap(fault.KindOf(err), "keys.Keys", err)
	}
	out := make([]KeyInfo, len(ks))
	for i, k := range ks {
		out[i] = KeyInfo{ID: k.ID, Algorithm: k.Algorithm, State: k.State,
			CreatedAt: k.CreatedAt, ActivatedAt: k.ActivatedAt, RetiredAt: k.RetiredAt}
	}
	return out, nil
}

// Run reloads the keys every Config.Refresh and applies due rotations until
// ctx is done, then returns nil. A failed round is logged and the previous
// keys stay in use; the next round tries again.
func (r *Ring) Run(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if _, err := r.converge(ctx, false, "keys.Run"); err != nil && ctx.Err() == nil {
				r.log.Error("signing keys: reload failed; keeping the previous keys", "err", err)
			}
		}
	}
}

// JWKS returns the public JSON Web Key Set of all next, active and retired
// keys and its strong ETag (quoted). Both are computed when the key set
// changes, not per call; the body must not be modified.
func (r *Ring) JWKS() (body []byte, etag string) {
	ks := r.cur.Load()
	return ks.jwks, ks.etag
}

// converge decides and applies plans until the key set obeys the policy,
// then installs it. A Conflict from ApplyKeyPlan means another replica
// changed the keys first: reload and decide again, without force, since
// that replica's rotation already happened.
func (r *Ring) converge(ctx context.Context, force bool, op string) (signkey.Plan, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var done signkey.Plan
	for range maxRounds {
		keys, err := r.store.ListSigningKeys(ctx)
		if err != nil {
			return done, fault.Wrap(fault.KindOf(err), op, err)
		}
		now := r.now().UTC()
		plan := r.cfg.Policy.Decide(keys, now, force)
		if plan.Empty() {
			return done, r.install(keys, op)
		}
		var next *signkey.Key
		if plan.NeedNext {
			if next, err = r.newKey(now); err != nil {
				return done, fault.Wrap(fault.Internal, op, err)
			}
		}
		switch err := r.store.ApplyKeyPlan(ctx, plan, next, now); {
		case err == nil:
			merge(&done, plan)
			if plan.Activate != "" {
				force = false
			}
			attrs := []any{"activate", plan.Activate, "retire", plan.Retire, "drop", plan.Drop}
			if next != nil {
				attrs = append(attrs, "next", next.ID)
			}
			r.log.Info("signing keys: plan applied", attrs...)
		case errors.Is(err, fault.Conflict):
			r.log.Info("signing keys: another replica changed the keys first; reloading")
			force = false
		default:
			return done, fault.Wrap(fault.KindOf(err), op, err)
		}
	}
	return done, fault.New(fault.Internal, op, "the signing keys did not settle")
}

// merge records in done what plan changed.
func merge(done *signkey.Plan, plan signkey.Plan) {
	done.NeedNext = done.NeedNext || plan.NeedNext
	if plan.Activate != "" {
		done.Activate = plan.Activate
	}
	if plan.Retire != "" {
		done.Retire = plan.Retire
	}
	done.Drop = append(done.Drop, plan.Drop...)
}

// newKey generates a P-256 key whose kid is its RFC 7638 thumbprint, with
// the private key (PKCS #8) sealed under the kid.
func (r *Ring) newKey(now time.Time) (*signkey.Key, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	pk, err := jwk.Import(&priv.PublicKey)
	if err != nil {
		return nil, err
	}
	tp, err := pk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, err
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	pub, err := publicJWK(&priv.PublicKey, kid)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	sealed := r.sealer.Seal(der, []byte(kid))
	clear(der)
	return &signkey.Key{ID: kid, Algorithm: algorithm, State: signkey.Next,
		PublicJWK: pub, Sealed: sealed, CreatedAt: now}, nil
}

// publicJWK is the JWK of pub as published: kty, crv, x, y, kid, alg, use.
func publicJWK(pub *ecdsa.PublicKey, kid string) ([]byte, error) {
	k, err := jwk.Import(pub)
	if err != nil {
		return nil, err
	}
	for name, v := range map[string]any{jwk.KeyIDKey: kid, jwk.AlgorithmKey: jwa.ES256(), jwk.KeyUsageKey: jwk.ForSignature} {
		if err := k.Set(name, v); err != nil {
			return nil, err
		}
	}
	return json.Marshal(k)
}

// install builds the snapshot of keys and publishes it. Keys already parsed
// in the current snapshot are reused, so a reload opens only new keys.
func (r *Ring) install(keys []signkey.Key, op string) error {
	prev := r.cur.Load()
	ks := &keySet{byID: make(map[string]*loadedKey, len(keys)), pubs: make(map[string]*ecdsa.PublicKey, len(keys))}
	var active *signkey.Key
	for i := range keys {
		k := &keys[i]
		var old *loadedKey
		if prev != nil {
			old = prev.byID[k.ID]
		}
		lk, err := r.load(k, old)
		if err != nil {
			return fault.Wrap(fault.Internal, op, fmt.Errorf("signing key %q: %w", k.ID, err))
		}
		ks.byID[k.ID] = lk
		ks.pubs[k.ID] = lk.pub
		// The same choice as signkey.Policy.Decide: the latest activated key signs.
		if k.State == signkey.Active && (active == nil || k.ActivatedAt.After(active.ActivatedAt)) {
			active = k
		}
	}
	if active != nil {
		ks.active = newSigningKey(active.ID, ks.byID[active.ID].priv)
	}

	order := publishOrder(keys)
	ks.ids = strings.Join(order, " ")
	if prev != nil && prev.ids == ks.ids {
		ks.jwks, ks.etag = prev.jwks, prev.etag
	} else {
		var err error
		if ks.jwks, err = buildJWKS(order, ks.pubs); err != nil {
			return fault.Wrap(fault.Internal, op, err)
		}
		sum := sha256.Sum256(ks.jwks)
		ks.etag = `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
		r.log.Info("signing keys: published set changed", "kids", order)
	}
	if prev != nil && prev.active != nil && ks.active != nil && prev.active.kid != ks.active.kid {
		r.log.Info("signing keys: signing with a new key", "kid", ks.active.kid)
	}
	r.cur.Store(ks)
	return nil
}

// load parses and checks one key row. Next and active keys are opened, so a
// wrong master key shows at start rather than at the first rotation.
func (r *Ring) load(k *signkey.Key, old *loadedKey) (*loadedKey, error) {
	needPriv := k.State == signkey.Next || k.State == signkey.Active
	if old != nil {
		switch {
		case needPriv && old.priv != nil:
			return old, nil
		case !needPriv:
			// A retired key never signs again: forget its private part.
			return &loadedKey{id: old.id, pub: old.pub}, nil
		}
	}
	if k.Algorithm != algorithm {
		return nil, fmt.Errorf("algorithm %q, want %s", k.Algorithm, algorithm)
	}
	switch k.State {
	case signkey.Next, signkey.Active, signkey.Retired:
	default:
		return nil, fmt.Errorf("unknown state %q", k.State)
	}
	pk, err := jwk.ParseKey(k.PublicJWK)
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	if priv, err := jwk.IsPrivateKey(pk); err != nil || priv {
		return nil, errors.New("public JWK is not a public key")
	}
	if kid, ok := pk.KeyID(); ok && kid != k.ID {
		return nil, fmt.Errorf("public JWK has kid %q", kid)
	}
	var raw any
	if err := jwk.Export(pk, &raw); err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	pub, ok := raw.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("public JWK is not a P-256 key")
	}
	lk := &loadedKey{id: k.ID, pub: pub}
	if !needPriv {
		return lk, nil
	}
	// The kid is the additional data: a blob moved to another row fails here.
	der, err := r.sealer.Open(k.Sealed, []byte(k.ID))
	if err != nil {
		return nil, err
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	priv, ok := parsed.(*ecdsa.PrivateKey)
	if !ok || !priv.PublicKey.Equal(pub) {
		return nil, errors.New("private key does not match the public JWK")
	}
	lk.priv = priv
	return lk, nil
}

// publishOrder lists the published kids: active first (for clients that
// take the first key), then next keys oldest first, then retired keys
// newest first.
func publishOrder(keys []signkey.Key) []string {
	rank := map[signkey.State]int{signkey.Active: 0, signkey.Next: 1, signkey.Retired: 2}
	ks := slices.Clone(keys)
	slices.SortStableFunc(ks, func(a, b signkey.Key) int {
		if d := rank[a.State] - rank[b.State]; d != 0 {
			return d
		}
		switch a.State {
		case signkey.Active:
			return b.ActivatedAt.Compare(a.ActivatedAt)
		case signkey.Retired:
			return b.RetiredAt.Compare(a.RetiredAt)
		default:
			return a.CreatedAt.Compare(b.CreatedAt)
		}
	})
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID
	}
	return out
}

// buildJWKS renders the published keys afresh from the parsed public keys,
// so nothing but public parameters stored with a row can reach the JWKS.
func buildJWKS(order []string, pubs map[string]*ecdsa.PublicKey) ([]byte, error) {
	keys := make([]json.RawMessage, 0, len(order))
	for _, kid := range order {
		b, err := publicJWK(pubs[kid], kid)
		if err != nil {
			return nil, err
		}
		keys = append(keys, b)
	}
	return json.Marshal(struct {
		Keys []json.RawMessage `json:"keys"`
	}{keys})
}
