package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte-app/authenticator"
	"github.com/pforte-id/pforte/cmd/pforte-app/dpop"
)

// state is what the app remembers between commands, in a local JSON file:
// the issuer and member number it registered with, the open enrollment
// session and the bound device with its key. The enrollment token is a
// bearer secret and the device key a private key, so the file is private
// to the user (0600) and written atomically (a crash leaves the old or the
// new file, never half of one).
type state struct {
	Issuer      string           `json:"issuer,omitempty"`
	KVNR        string           `json:"kvnr,omitempty"`
	RequestedAt time.Time        `json:"requested_at,omitzero"`
	Enrollment  *enrollmentState `json:"enrollment,omitempty"`
	Device      *deviceState     `json:"device,omitempty"`
	// PendingDevice is the key bind-device sent but whose answer did not
	// arrive (yet): kept, so that a binding the issuer made while its
	// answer was lost is taken up by the next bind-device.
	PendingDevice *deviceState  `json:"pending_device,omitempty"`
	Session       *sessionState `json:"session,omitempty"`
	// Transfer is the device transfer this phone began (transfer begin),
	// until it is redeemed.
	Transfer *transferState `json:"transfer,omitempty"`
	// DeletedAt is when delete-account deleted the account.
	DeletedAt time.Time `json:"deleted_at,omitzero"`
}

// transferState is a device transfer the new phone began: the code its QR
// code shows and the secret that redeems the transfer once the old phone
// approved (a bearer secret: the file is private to the user).
type transferState struct {
	Code         string    `json:"code"`
	Secret       string    `json:"secret"`
	ExpiresAt    time.Time `json:"expires_at"`
	PollInterval int       `json:"poll_interval,omitempty"`
}

// enrollmentState is the session POST /app/v1/activations opened.
type enrollmentState struct {
	Token       string    `json:"token"`
	ExpiresAt   time.Time `json:"expires_at"`
	NextSteps   []string  `json:"next_steps,omitempty"`
	PasswordSet bool      `json:"password_set,omitempty"`
	// BindingID is the device bound in this session (bind-device).
	BindingID string `json:"binding_id,omitempty"`
}

// deviceState is this phone's device binding: the binding id Pforte gave
// it and the software key (authenticator.Authenticator: the P-256 private
// key as PKCS#8, the credential id, the RP id and the signature counter,
// which grows with every assertion and is saved after each).
type deviceState struct {
	BindingID string `json:"binding_id"`
	Name      string `json:"name"`
	Platform  string `json:"platform"`
	// Origin is the origin the key's client data carry (the issuer's,
	// localhost for a loopback issuer).
	Origin  string                       `json:"origin"`
	BoundAt time.Time                    `json:"bound_at"`
	PINSet  bool                         `json:"pin_set,omitempty"`
	Key     *authenticator.Authenticator `json:"key"`
}

// sessionState is the session the last login opened: the DPoP key its
// tokens are bound to (new for every login, so that sessions cannot be
// linked by their key), the tokens, and the last server nonce. The
// refresh token and the DPoP key together continue the session, which is
// why the file is private to the user.
type sessionState struct {
	ClientID    string    `json:"client_id"`
	RedirectURI string    `json:"redirect_uri"`
	DPoPKey     *dpop.Key `json:"dpop_key"`
	// DPoPNonce is the last DPoP-Nonce the issuer sent.
	DPoPNonce    string    `json:"dpop_nonce,omitempty"`
	AccessToken  string    `json:"access_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	RefreshToken string    `json:"refresh_token,omitempty"`
	IDToken      string    `json:"id_token,omitempty"`
	Scope        string    `json:"scope,omitempty"`
	// Subject, ACR, AMR and AuthTime are from the login's verified ID
	// token.
	Subject    string    `json:"sub"`
	ACR        string    `json:"acr,omitempty"`
	AMR        []string  `json:"amr,omitempty"`
	AuthTime   time.Time `json:"auth_time,omitzero"`
	LoggedInAt time.Time `json:"logged_in_at"`
	// RefreshedAt is the last refresh (zero: none yet).
	RefreshedAt time.Time `json:"refreshed_at,omitzero"`
}

// maxStateSize bounds the state file read; it holds about a kilobyte.
const maxStateSize = 64 << 10

// statePath is the state file: --state, else $XDG_STATE_HOME/pforte-app/
// state.json, else ~/.pforte-app.json.
func (e *env) statePath() (string, error) {
	if e.stateFile != "" {
		return e.stateFile, nil
	}
	if d := e.getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "pforte-app", "state.json"), nil
	}
	if h := e.getenv("HOME"); h != "" {
		return filepath.Join(h, ".pforte-app.json"), nil
	}
	return "", usageError{errors.New("no state file: set --state, XDG_STATE_HOME or HOME")}
}

// loadState reads the state file; a missing file is an empty state and
// exists is false.
func (e *env) loadState() (st state, path string, exists bool, err error) {
	path, err = e.statePath()
	if err != nil {
		return st, "", false, err
	}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return st, path, false, nil
	} else if err != nil {
		return st, path, false, fmt.Errorf("state file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxStateSize+1))
	if err == nil && len(data) > maxStateSize {
		err = errors.New("file too large")
	}
	if err == nil {
		err = json.Unmarshal(data, &st)
	}
	if err != nil {
		return st, path, true, fmt.Errorf("state file %s is not readable (%v); remove it and activate again", path, err)
	}
	return st, path, true, nil
}

// saveState writes st to path atomically, readable only by the user.
func saveState(path string, st state) (err error) {
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	// CreateTemp makes the file 0600 and unique in the same directory, so
	// the rename below replaces the old file in one step.
	f, err := os.CreateTemp(dir, ".pforte-app-*.tmp")
	if err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if _, err := f.Write(append(data, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("state file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}
