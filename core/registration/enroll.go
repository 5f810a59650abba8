package registration

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/enrollment"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/grant"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/password"
	"github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/ports/proofing"
)

// Activate completes a proofing of member k with a method that checks
// secrets the member types (a proofing.SecretChecker: the letter), records
// the proof, and opens an enrollment session of enrollment.TTL for the
// member's account: a new account is created Pending at the proof's level
// with an opaque random ID; an existing one keeps its ID, status and
// password and has its level raised when the proof is higher
// (Enrollments.StartEnrollment).
//
// It returns the session's bearer token (256 bits, shown once; the store
// keeps its hash) and the session. The app sends the token with the next
// steps (SetPassword, then device binding).
//
// Attempts are counted per client address (IPv6: per /64) before the
// method sees them: whoever knows a member number could otherwise void that
// member's letter with a handful of guesses from anywhere, and try many
// members' letters from one place. The letter method counts per member
// number besides (core/letterproof).
//
// Errors: Invalid for an unknown method or one that takes no secrets;
// RateLimited (CodeRateLimited, with the wait); those of the method, unchanged (Invalid,
// Unauthenticated, RateLimited, Locked, Expired, Conflict — see
// ports/proofing.SecretChecker); Unavailable; Internal when clientIP is
// empty or the method returns a proof that does not fit the member.
func (s *Service) Activate(ctx context.Context, clientIP string, method proof.Method, k kvnr.KVNR, secrets proofing.Secrets) (token string, session enrollment.Session, err error) {
	const op = "registration.Activate"
	m, ok := s.methods[method].(proofing.SecretChecker)
	if !ok {
		return "", enrollment.Session{}, fault.Coded(fault.Invalid, op, textUnknownMethod)
	}
	ip, ok := ipKey(clientIP)
	if !ok {
		return "", enrollment.Session{}, fault.New(fault.Internal, op, "")
	}
	if err := s.hit(ctx, op, "activation:ip:"+ip, s.cfg.ActivationsPerIP, s.clock()); err != nil {
		return "", enrollment.Session{}, err
	}
	// Parsed here too, so that the proof is compared with the number in
	// its normal form.
	if k, err = kvnr.Parse(string(k)); err != nil {
		return "", enrollment.Session{}, err
	}
	pr, err := m.CheckSecrets(ctx, k, secrets)
	if err != nil {
		return "", enrollment.Session{}, err
	}
	if pr.KVNR != k || !s.fits(m, pr) {
		return "", enrollment.Session{}, fault.New(fault.Internal, op, "")
	}
	token = grant.NewSecret()
	session, err = s.enroll(ctx, pr, grant.Hash(token))
	if err != nil {
		return "", enrollment.Session{}, err
	}
	return token, session, nil
}

// fits reports whether pr is a proof method m may report: its own name, a
// valid member number, at least level low. A method that reports anything
// else is broken, and no account is made from what it says.
func (s *Service) fits(m proofing.Method, pr proof.Proof) bool {
	_, err := kvnr.Parse(string(pr.KVNR))
	return err == nil && pr.Method == m.Name() && pr.Level >= loa.Low
}

// enroll records proof pr and opens an enrollment session for the
// member's account (see Activate) whose token has the hash tokenHash.
func (s *Service) enroll(ctx context.Context, pr proof.Proof, tokenHash string) (session enrollment.Session, err error) {
	now := s.clock()
	a := account.Account{
		ID: grant.NewID(), KVNR: pr.KVNR, Status: account.Pending, Proofing: pr.Level,
		CreatedAt: now, UpdatedAt: now,
	}
	session = enrollment.Session{
		ID: grant.NewID(), TokenHash: tokenHash, KVNR: pr.KVNR, Method: pr.Method,
		CreatedAt: now, ExpiresAt: now.Add(enrollment.TTL),
	}
	stored, err := s.enrolls.StartEnrollment(ctx, session, a, pr)
	if err != nil {
		return enrollment.Session{}, err
	}
	session.AccountID = stored.ID
	s.metrics.Registration(ctx, pr.Method)
	s.log.LogAttrs(ctx, slog.LevelInfo, "enrollment started",
		slog.String("session", session.ID), slog.String("account", stored.ID),
		slog.String("method", string(pr.Method)), slog.String("evidence", pr.Evidence.Reference))
	return session, nil
}

// Codes of the enrollment session (the same as core/binding's for the
// steps that follow); none has parameters.
const (
	CodeSessionUnknown fault.Code = "enrollment.unknown"
	CodeSessionExpired fault.Code = "enrollment.expired"
	// CodeTransferPassword: a device transfer's session takes no password.
	CodeTransferPassword fault.Code = "enrollment.transfer_password"
)

// EnrollmentStatus returns the open enrollment session token opens. The
// app that began a proofing by redirect asks it until the proofing
// service's answer has opened the session (BeginProofing): only the
// token's holder learns the outcome, and nothing else is kept for it.
//
// Errors: Unauthenticated (CodeSessionUnknown) for a token that opens no
// session, or none yet; Expired when the session is over or completed;
// Unavailable.
func (s *Service) EnrollmentStatus(ctx context.Context, token string) (enrollment.Session, error) {
	const op = "registration.EnrollmentStatus"
	if token == "" || len(token) > 256 {
		return enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, CodeSessionUnknown)
	}
	sess, err := s.enrolls.EnrollmentByTokenHash(ctx, grant.Hash(token))
	switch {
	case errors.Is(err, fault.NotFound):
		return enrollment.Session{}, fault.Coded(fault.Unauthenticated, op, CodeSessionUnknown)
	case err != nil:
		return enrollment.Session{}, err
	case !sess.Open(s.clock()):
		return enrollment.Session{}, fault.Coded(fault.Expired, op, CodeSessionExpired)
	}
	return sess, nil
}

// SetPassword sets the member's own password in the enrollment session
// the token opens. The password must pass password.DefaultPolicy (10 to
// 128 characters, not common, not trivial) without containing the
// member's number, names or date of birth in the usual spellings, and then
// the strength Estimator, if one is configured; it is stored as an
// Argon2id hash. The account stays as it is otherwise: it cannot log in
// with two factors until device binding and PIN are done too.
//
// Errors: Unauthenticated for an unknown token; Expired when the session
// is over or completed; Forbidden (CodeTransferPassword) in a session a
// device transfer opened, which takes no password; Invalid with the code
// of core/password for a refused password; Unavailable.
func (s *Service) SetPassword(ctx context.Context, token, pw string) error {
	const op = "registration.SetPassword"
	unknown := fault.Coded(fault.Unauthenticated, op, CodeSessionUnknown)
	expired := fault.Coded(fault.Expired, op, CodeSessionExpired)
	if token == "" || len(token) > 256 {
		return unknown
	}
	sess, err := s.enrolls.EnrollmentByTokenHash(ctx, grant.Hash(token))
	switch {
	case errors.Is(err, fault.NotFound):
		return unknown
	case err != nil:
		return err
	case !sess.Open(s.clock()):
		return expired
	case sess.Transfer():
		// A device transfer's session binds a device to an account
		// whose password stays as it is: the old phone's approval
		// stands in for a proofing only for that.
		return fault.Coded(fault.Forbidden, op, CodeTransferPassword)
	}
	if err := s.CheckPassword(ctx, sess.KVNR, sess.AccountID, pw); err != nil {
		return err
	}
	hash, err := s.passwords.Hash(ctx, pw)
	if err != nil {
		return err
	}
	switch err := s.enrolls.SetEnrollmentPassword(ctx, sess.ID, hash, s.clock()); {
	case errors.Is(err, fault.NotFound):
		return unknown
	case errors.Is(err, fault.Expired):
		return expired
	case errors.Is(err, fault.Forbidden):
		return fault.Coded(fault.Forbidden, op, CodeTransferPassword)
	case err != nil:
		return err
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "enrollment password set",
		slog.String("session", sess.ID), slog.String("account", sess.AccountID))
	return nil
}

// CheckPassword applies the rules of a member's own password to pw, for
// the member k with account accountID: password.DefaultPolicy (10 to 128
// characters, not common, not trivial) without the member's number, names
// or date of birth in the usual spellings, then the strength Estimator, if
// one is configured. Setting a password at enrollment and changing it on
// the account page apply the same rules through it.
// Errors: Invalid with the code of core/password; Unavailable.
func (s *Service) CheckPassword(ctx context.Context, k kvnr.KVNR, accountID, pw string) error {
	personal, err := s.personalInputs(ctx, k, accountID)
	if err != nil {
		return err
	}
	return password.DefaultPolicy.CheckWith(s.estimator, pw, personal...)
}

// personalInputs are the words a password must not contain: the member
// number (also without its letter), the names from the directory and from
// every proof (an eID may spell them differently), each name part on its
// own, and the date of birth in the spellings people use.
func (s *Service) personalInputs(ctx context.Context, k kvnr.KVNR, accountID string) ([]string, error) {
	out := []string{string(k), string(k)[min(1, len(k)):]}
	var names, births []string
	m, err := s.members.MemberByKVNR(ctx, k)
	switch {
	case err == nil:
		names = append(names, m.GivenName, m.FamilyName)
		births = append(births, m.BirthDate)
	case !errors.Is(err, fault.NotFound):
		return nil, err
	}
	proofs, err := s.enrolls.Proofs(ctx, accountID)
	if err != nil {
		return nil, err
	}
	for _, p := range proofs {
		names = append(names, p.Attributes.GivenName, p.Attributes.FamilyName)
		births = append(births, p.Attributes.BirthDate)
	}
	for _, n := range names {
		out = append(out, n)
		out = append(out, strings.FieldsFunc(n, func(r rune) bool { return r == ' ' || r == '-' })...)
	}
	for _, b := range births {
		out = append(out, BirthDateForms(b)...)
	}
	return out, nil
}

// BirthDateForms returns a date of birth (YYYY-MM-DD) as people write it
// in passwords: DDMMYYYY, YYYY-MM-DD, DD.MM.YYYY, YYYYMMDD, DD.MM.YY and
// DDMMYY. Nil for anything else.
func BirthDateForms(birth string) []string {
	t, err := time.Parse("2006-01-02", birth)
	if err != nil {
		return nil
	}
	var out []string
	for _, layout := range []string{"02012006", "2006-01-02", "02.01.2006", "20060102", "02.01.06", "020106"} {
		out = append(out, t.Format(layout))
	}
	return out
}
