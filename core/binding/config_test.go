package binding_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/binding"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/pin"
)

func TestConfigValidate(t *testing.T) {
	digest := sha256.Sum256([]byte("insurer signing certificate"))
	withColons := strings.ToUpper(hex.EncodeToString(digest[:2])) + ":" + hex.EncodeToString(digest[2:])
	key := []byte(strings.Repeat("k", 32))
	for _, tc := range []struct {
		name string
		cfg  binding.Config
		ok   bool
	}{
		{"development", binding.Config{Device: device.Policy{AllowUnattested: true}, IPKey: key}, true},
		{"production android", binding.Config{Device: device.Policy{AndroidPackage: "de.bkk.app",
			AndroidCertDigests: []string{hex.EncodeToString(digest[:])}}, IPKey: key}, true},
		{"digest with colons", binding.Config{Device: device.Policy{AndroidPackage: "de.bkk.app",
			AndroidCertDigests: []string{withColons}}, IPKey: key}, true},
		{"packed only", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key}, true},
		{"accepts nothing", binding.Config{IPKey: key}, false},
		{"android without digest", binding.Config{Device: device.Policy{AndroidPackage: "de.bkk.app"}, IPKey: key}, false},
		{"digest not hex", binding.Config{Device: device.Policy{AndroidPackage: "de.bkk.app",
			AndroidCertDigests: []string{"zz"}}, IPKey: key}, false},
		{"digest too short", binding.Config{Device: device.Policy{AndroidPackage: "de.bkk.app",
			AndroidCertDigests: []string{"abcd"}}, IPKey: key}, false},
		{"no IP key", binding.Config{Device: device.Policy{AllowPacked: true}}, false},
		{"short IP key", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key[:31]}, false},
		{"bad PIN policy", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key,
			PIN: pin.Policy{MaxFailures: 50, DelayFrom: 3}}, false},
		{"negative delay", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key,
			PIN: pin.Policy{MaxFailures: 5, DelayFrom: 3, Delays: []time.Duration{-time.Second}}}, false},
		{"client id with spaces", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, AppClientID: " app "}, false},
		{"transfer 15 minutes", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, TransferTTL: 15 * time.Minute}, true},
		{"transfer too long", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, TransferTTL: 16 * time.Minute}, false},
		{"transfer too short", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, TransferTTL: 30 * time.Second}, false},
		{"transfers per IP negative", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, TransfersPerIP: -1}, false},
		{"transfer window too short", binding.Config{Device: device.Policy{AllowPacked: true}, IPKey: key, TransferWindow: time.Second}, false},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && fault.KindOf(err) != fault.Invalid {
			t.Errorf("%s: kind %v", tc.name, fault.KindOf(err))
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	f := setup(t, func(c *binding.Config, _ *binding.Deps) { c.PIN = pin.Policy{} })
	got := f.svc.Config()
	if got.PIN.MaxFailures != pin.DefaultPolicy.MaxFailures || len(got.PIN.Delays) != len(pin.DefaultPolicy.Delays) ||
		got.AppClientID != binding.DefaultAppClientID || got.TransferTTL != 5*time.Minute ||
		got.TransfersPerIP != binding.DefaultTransfersPerIP || got.TransferWindow != binding.DefaultTransferWindow {
		t.Fatalf("defaults %+v", got)
	}
}

func TestNewRefusesMissingDependencies(t *testing.T) {
	f := setup(t)
	for name, drop := range map[string]func(*binding.Deps){
		"enrollments":  func(d *binding.Deps) { d.Enrollments = nil },
		"devices":      func(d *binding.Deps) { d.Devices = nil },
		"challenges":   func(d *binding.Deps) { d.Challenges = nil },
		"audit":        func(d *binding.Deps) { d.Audit = nil },
		"completion":   func(d *binding.Deps) { d.Completion = nil },
		"accounts":     func(d *binding.Deps) { d.Accounts = nil },
		"members":      func(d *binding.Deps) { d.Members = nil },
		"transfers":    func(d *binding.Deps) { d.Transfers = nil },
		"rate limits":  func(d *binding.Deps) { d.RateLimits = nil },
		"ceremony":     func(d *binding.Deps) { d.Ceremony = nil },
		"PIN hasher":   func(d *binding.Deps) { d.PINs = nil },
		"passwords":    func(d *binding.Deps) { d.Passwords = nil },
		"rules":        func(d *binding.Deps) { d.Rules = nil },
		"hasher":       func(d *binding.Deps) { d.Hasher = nil },
		"mail wording": func(d *binding.Deps) { d.Mail = nil },
	} {
		d := f.deps
		drop(&d)
		if _, err := binding.New(f.cfg, d); err == nil || fault.KindOf(err) != fault.Invalid {
			t.Errorf("without %s: %v", name, err)
		}
	}
	d := f.deps
	d.Notifier, d.Mail, d.Now, d.Logger = nil, nil, nil, nil
	if _, err := binding.New(f.cfg, d); err != nil {
		t.Fatalf("optional dependencies: %v", err)
	}
	if _, err := binding.New(binding.Config{}, f.deps); err == nil {
		t.Fatal("an invalid configuration was accepted")
	}
}

func TestNewWarnsAboutUnattestedKeys(t *testing.T) {
	f := setup(t)
	if !strings.Contains(f.logs.String(), "development only") {
		t.Fatalf("no warning in %s", f.logs.String())
	}
	g := setup(t, withDevicePolicy(device.Policy{AllowPacked: true}))
	if strings.Contains(g.logs.String(), "development only") {
		t.Fatal("warning in production")
	}
}
