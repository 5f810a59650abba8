package httpapi

import (
	"context"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/pforte-id/pforte/catalog"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/applogin"
	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/clientaddr"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/letterproof"
	"github.com/pforte-id/pforte/core/lifecycle"
	coreproof "github.com/pforte-id/pforte/core/proof"
	"github.com/pforte-id/pforte/core/registration"
	"github.com/pforte-id/pforte/core/secret"
	"github.com/pforte-id/pforte/ports/proofing"
)

// OpenAPI is the API description, served at /app/v1/openapi.yaml.
//
//go:embed openapi.yaml
var OpenAPI []byte

// Prefix is where the API is mounted.
const Prefix = "/app/v1/"

// Config configures the API.
type Config struct {
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed; the client address counts for rate limits. Empty: the
	// peer address is the client.
	TrustedProxies []netip.Prefix
	// MaxBodyBytes bounds request bodies (default 16 KiB).
	MaxBodyBytes int64
	// EIDCallbackURL is where the eID service sends the member back (the
	// redirect URI registered there); empty: registration with the eID
	// is not offered, and method eid is refused as any method that
	// cannot be requested.
	EIDCallbackURL string
}

// Logins is the app login use case (core/applogin.Service).
type Logins interface {
	Begin(ctx context.Context, authRequestID, bindingID string) (challengeID string, options []byte, err error)
	CompleteLogin(ctx context.Context, authRequestID, challengeID string, assertion []byte, pin, ip string) (applogin.Completed, error)
	ErrorRedirect(r fault.Redirect, oauthCode, description string) string
}

var _ Logins = (*applogin.Service)(nil)

// API serves /app/v1.
type API struct {
	cfg  Config
	reg  *registration.Service
	bind *binding.Service
	// creds is bind's credential changes (a test's stand-in in tests).
	creds  Credentials
	logins Logins
	// approvals is the app's side of the web login.
	approvals Approvals
	// accounts deletes the member's account on request.
	accounts Accounts
	log      *slog.Logger
}

// Accounts deletes accounts (core/lifecycle.Service).
type Accounts interface {
	DeleteAccount(ctx context.Context, d lifecycle.Deletion) (account.Account, error)
}

var _ Accounts = (*lifecycle.Service)(nil)

// New returns the API.
func New(cfg Config, reg *registration.Service, bind *binding.Service, logins Logins, approvals Approvals, accounts Accounts, log *slog.Logger) *API {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 16 << 10
	}
	a := &API{cfg: cfg, reg: reg, bind: bind, logins: logins, approvals: approvals, accounts: accounts, log: log}
	if bind != nil {
		a.creds = bind
	}
	return a
}

// Handler returns the handler for everything under Prefix.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"openapi.yaml", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		_, _ = w.Write(OpenAPI)
	})
	mux.HandleFunc("POST "+Prefix+"registrations", a.register)
	mux.HandleFunc("POST "+Prefix+"letters/lost", a.reportLost)
	mux.HandleFunc("POST "+Prefix+"activations", a.activate)
	mux.HandleFunc("GET "+Prefix+"enrollment", a.enrollmentStatus)
	mux.HandleFunc("POST "+Prefix+"enrollment", a.redeemProofing)
	mux.HandleFunc("PUT "+Prefix+"enrollment/password", a.setPassword)
	mux.HandleFunc("POST "+Prefix+"enrollment/device/challenge", a.beginBinding)
	mux.HandleFunc("POST "+Prefix+"enrollment/device", a.finishBinding)
	mux.HandleFunc("PUT "+Prefix+"enrollment/pin", a.setPIN)
	mux.HandleFunc("POST "+Prefix+"devices/{id}/challenge", a.beginDeviceAuth)
	mux.HandleFunc("POST "+Prefix+"devices/list", a.listDevices)
	mux.HandleFunc("POST "+Prefix+"devices/{id}/rename", a.renameDevice)
	mux.HandleFunc("POST "+Prefix+"devices/{id}/revoke", a.revokeDevice)
	mux.HandleFunc("POST "+Prefix+"devices/revoke-others", a.revokeOtherDevices)
	mux.HandleFunc("POST "+Prefix+"devices/reconfirm", a.reconfirm)
	mux.HandleFunc("POST "+Prefix+"pin/reset", a.resetPIN)
	mux.HandleFunc("POST "+Prefix+"pin/change", a.changePIN)
	mux.HandleFunc("POST "+Prefix+"password/reset", a.resetPassword)
	mux.HandleFunc("POST "+Prefix+"password/change", a.changePassword)
	mux.HandleFunc("POST "+Prefix+"recovery", a.beginRecovery)
	mux.HandleFunc("POST "+Prefix+"recovery/confirmation", a.confirmRecovery)
	mux.HandleFunc("POST "+Prefix+"transfers", a.beginTransfer)
	mux.HandleFunc("POST "+Prefix+"transfers/approval", a.approveTransfer)
	mux.HandleFunc("POST "+Prefix+"transfers/redemption", a.redeemTransfer)
	mux.HandleFunc("POST "+Prefix+"account/delete", a.deleteAccount)
	mux.HandleFunc("POST "+Prefix+"step-up", a.beginStepUp)
	mux.HandleFunc("POST "+Prefix+"step-up/confirmation", a.redeemStepUp)
	mux.HandleFunc("POST "+Prefix+"logins/{id}/challenge", a.beginLogin)
	mux.HandleFunc("POST "+Prefix+"logins/{id}", a.completeLogin)
	mux.HandleFunc("GET "+Prefix+"approvals", a.listApprovals)
	mux.HandleFunc("POST "+Prefix+"approvals/{id}/challenge", a.beginApproval)
	mux.HandleFunc("POST "+Prefix+"approvals/{id}", a.decideApproval)
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, a.log, fault.Coded(fault.NotFound, "httpapi", codeUnknownPath))
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The language of every text of this request, e-mails included.
		p := catalog.Match(r.Header.Get("Accept-Language"))
		inner := r.WithContext(catalog.WithPrinter(r.Context(), p))
		mux.ServeHTTP(w, inner)
		// The pattern that matched, for the server's request metrics
		// around this handler (ServeMux sets it on the copy it was given).
		r.Pattern = inner.Pattern
	})
}

// Codes of the API's own refusals; none has parameters.
const (
	codeUnknownPath  fault.Code = "api.unknown_path"
	codeTooLarge     fault.Code = "api.too_large"
	codeContentType  fault.Code = "api.content_type"
	codeJSON         fault.Code = "api.json"
	codeTrailing     fault.Code = "api.trailing"
	codeTokenMissing fault.Code = "enrollment.token_missing"
	codeEIDBirthDate fault.Code = "registration.eid_birth_date"
)

// lostRequest is the body of POST /letters/lost.
type lostRequest struct {
	KVNR      string `json:"kvnr"`
	BirthDate string `json:"birth_date"`
}

// reportLost takes a report that the member's letter was lost. The
// answer is one for every well-formed report that the guard admits
// (registration.ReportLost); a refusal of the guard says from when a new
// letter is possible.
func (a *API) reportLost(w http.ResponseWriter, r *http.Request) {
	var in lostRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	err := a.reg.ReportLost(r.Context(), registration.RequestInput{
		KVNR: in.KVNR, BirthDate: in.BirthDate, Method: string(coreproof.Letter), ClientIP: a.clientIP(r),
	})
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusAccepted, "application/json",
		map[string]string{"status": "accepted", "message": catalog.From(r.Context()).Text("registration.lost_accepted")})
}

// registrationRequest is the body of POST /registrations.
type registrationRequest struct {
	KVNR      string `json:"kvnr"`
	BirthDate string `json:"birth_date"`
	Method    string `json:"method"`
	// ReturnURI, CodeChallenge and CodeChallengeMethod bind a registration
	// with the eID to the app that begins it (see beginEID).
	ReturnURI           string `json:"return_uri"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// accepted is the one answer to every well-formed registration request:
// whether a letter is sent is decided later and never told.
func accepted(r *http.Request) map[string]string {
	return map[string]string{"status": "accepted", "message": catalog.From(r.Context()).Text("registration.accepted")}
}

// proofingResponse is the answer to a registration with the eID: where
// to send the member, and the token of the enrollment session that the
// eID service's answer opens. The token is the app's alone: it is not in
// the URL and the browser never sees it.
type proofingResponse struct {
	Status           string   `json:"status"`
	AuthorizationURL string   `json:"authorization_url"`
	EnrollmentToken  string   `json:"enrollment_token"`
	TokenType        string   `json:"token_type"`
	ExpiresIn        int      `json:"expires_in"`
	NextSteps        []string `json:"next_steps"`
}

func (a *API) register(w http.ResponseWriter, r *http.Request) {
	var in registrationRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if in.Method == string(coreproof.EID) && a.cfg.EIDCallbackURL != "" {
		a.beginEID(w, r, in)
		return
	}
	err := a.reg.Request(r.Context(), registration.RequestInput{
		KVNR: in.KVNR, BirthDate: in.BirthDate, Method: in.Method, ClientIP: a.clientIP(r),
	})
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusAccepted, "application/json", accepted(r))
}

// beginEID begins a registration with the eID card: the member proves
// the identity at the eID service, whose accepted answer at Pforte's
// callback sends the browser to the app's return_uri with a one-time code;
// the app redeems it with POST /enrollment, the token returned here and
// the verifier of its code_challenge (S256). The date of birth is not
// asked: the card states it, and it is compared with the record.
func (a *API) beginEID(w http.ResponseWriter, r *http.Request, in registrationRequest) {
	if in.BirthDate != "" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", codeEIDBirthDate))
		return
	}
	if in.CodeChallengeMethod != "S256" {
		writeProblem(w, r, a.log, fault.Coded(fault.Invalid, "httpapi", registration.CodeChallenge))
		return
	}
	u, token, err := a.reg.BeginProofing(r.Context(), registration.ProofingStart{
		ClientIP: a.clientIP(r), Method: coreproof.EID, KVNR: kvnr.KVNR(in.KVNR), CallbackURL: a.cfg.EIDCallbackURL,
		ReturnURI: in.ReturnURI, CodeChallenge: in.CodeChallenge,
	})
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", proofingResponse{
		Status: "redirect", AuthorizationURL: u, EnrollmentToken: token, TokenType: "Bearer",
		ExpiresIn: int(coreproof.PendingTTL / time.Second), NextSteps: []string{"eid", "password", "device", "pin"},
	})
}

// redeemRequest is the body of POST /enrollment.
type redeemRequest struct {
	Code         string `json:"code"`
	CodeVerifier string `json:"code_verifier"`
}

// readRedeem reads the bearer token and the body of a redemption of a
// one-time code (registration or step-up by redirect); when it returns
// false it has answered already.
func (a *API) readRedeem(w http.ResponseWriter, r *http.Request) (string, redeemRequest, bool) {
	var in redeemRequest
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeTokenMissing))
		return "", in, false
	}
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return "", in, false
	}
	return token, in, true
}

// redeemProofing opens the enrollment session of a registration with the
// eID: the app presents its enrollment token, the one-time code its
// return_uri received and the verifier of its code_challenge. A code that
// reached another app (a relayed confirmation) opens nothing.
func (a *API) redeemProofing(w http.ResponseWriter, r *http.Request) {
	token, in, ok := a.readRedeem(w, r)
	if !ok {
		return
	}
	s, err := a.reg.RedeemProofing(r.Context(), token, in.Code, in.CodeVerifier)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", enrollmentState{
		ExpiresAt: s.ExpiresAt.UTC(), NextSteps: []string{"password", "device", "pin"},
	})
}

// enrollmentStatus answers whether the token opens an enrollment session:
// after a registration with the eID, once the app has redeemed the
// confirmation (POST /enrollment). Until then it is enrollment.unknown.
func (a *API) enrollmentStatus(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeTokenMissing))
		return
	}
	s, err := a.reg.EnrollmentStatus(r.Context(), token)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	state := enrollmentState{ExpiresAt: s.ExpiresAt.UTC(), NextSteps: []string{"device", "pin"}}
	if s.PasswordSetAt.IsZero() && !s.Transfer() {
		// A device transfer's session has no password step.
		state.NextSteps = []string{"password", "device", "pin"}
	}
	if a.bind != nil {
		b, bound, err := a.bind.EnrollmentDevice(r.Context(), token)
		if err != nil {
			writeProblem(w, r, a.log, err)
			return
		}
		if bound {
			// The device bound in this session, so that an app whose answer
			// to the binding was lost goes on with the PIN for its key.
			state.Device = &enrolledDevice{
				ID: b.ID, CredentialID: base64.RawURLEncoding.EncodeToString(b.CredentialID),
				Name: b.Name, PINSet: b.PINHash != "",
			}
			state.NextSteps = []string{"pin"}
			if b.PINHash != "" {
				state.NextSteps = []string{}
			}
		}
	}
	writeJSON(w, r, http.StatusOK, "application/json", state)
}

// enrolledDevice is the device bound in an enrollment session.
type enrolledDevice struct {
	ID           string `json:"id"`
	CredentialID string `json:"credential_id"`
	Name         string `json:"name"`
	PINSet       bool   `json:"pin_set"`
}

// enrollmentState is an open enrollment session as GET /enrollment
// describes it.
type enrollmentState struct {
	ExpiresAt time.Time       `json:"expires_at"`
	NextSteps []string        `json:"next_steps"`
	Device    *enrolledDevice `json:"device,omitempty"`
}

// activationRequest is the body of POST /activations.
type activationRequest struct {
	KVNR            string `json:"kvnr"`
	InitialPassword string `json:"initial_password"`
	ActivationCode  string `json:"activation_code"`
}

// activationResponse opens the enrollment session.
type activationResponse struct {
	EnrollmentToken string    `json:"enrollment_token"`
	TokenType       string    `json:"token_type"`
	ExpiresAt       time.Time `json:"expires_at"`
	ExpiresIn       int       `json:"expires_in"`
	NextSteps       []string  `json:"next_steps"`
}

func (a *API) activate(w http.ResponseWriter, r *http.Request) {
	var in activationRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	k, err := kvnr.Parse(in.KVNR)
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	token, s, err := a.reg.Activate(r.Context(), a.clientIP(r), "letter", k, proofing.Secrets{
		letterproof.SecretInitialPassword: secret.String(in.InitialPassword),
		letterproof.SecretActivationCode:  secret.String(in.ActivationCode),
	})
	if err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	writeJSON(w, r, http.StatusCreated, "application/json", activationResponse{
		EnrollmentToken: token, TokenType: "Bearer", ExpiresAt: s.ExpiresAt.UTC(),
		// From the session's own times, not the wall clock: both come from
		// the service's clock, so expires_in and expires_at agree.
		ExpiresIn: int(s.ExpiresAt.Sub(s.CreatedAt).Round(time.Second) / time.Second),
		NextSteps: []string{"password", "device", "pin"},
	})
}

// passwordRequest is the body of PUT /enrollment/password.
type passwordRequest struct {
	Password string `json:"password"`
}

func (a *API) setPassword(w http.ResponseWriter, r *http.Request) {
	token, ok := bearer(r)
	if !ok {
		writeProblem(w, r, a.log, fault.Coded(fault.Unauthenticated, "httpapi", codeTokenMissing))
		return
	}
	var in passwordRequest
	if err := a.decode(w, r, &in); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	if err := a.reg.SetPassword(r.Context(), token, in.Password); err != nil {
		writeProblem(w, r, a.log, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// errTooLarge is answered with 413 rather than its kind's 400.
var errTooLarge = fault.Coded(fault.Invalid, "httpapi.decode", codeTooLarge)

// decode reads exactly one JSON object of the expected shape: the right
// content type, no unknown fields, nothing after it, within the size limit.
// Errors: Invalid with a code naming the problem (codeContentType, codeJSON,
// codeTrailing, codeTooLarge).
func (a *API) decode(w http.ResponseWriter, r *http.Request, into any) error {
	const op = "httpapi.decode"
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fault.Coded(fault.Invalid, op, codeContentType)
	}
	if r.ContentLength > a.cfg.MaxBodyBytes {
		return errTooLarge
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, a.cfg.MaxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return errTooLarge
		}
		return fault.Coded(fault.Invalid, op, codeJSON)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fault.Coded(fault.Invalid, op, codeTrailing)
	}
	return nil
}

func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" || len(tok) > 512 {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

// clientIP is the address rate limits count (core/clientaddr's rule).
func (a *API) clientIP(r *http.Request) string {
	return clientaddr.Of(r.RemoteAddr, r.Header.Values("X-Forwarded-For"), a.cfg.TrustedProxies)
}
