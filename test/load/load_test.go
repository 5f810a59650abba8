package main

import (
	"bytes"
	"encoding/json"
	"math"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/account"
	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/kvnr"
	"github.com/pforte-id/pforte/core/loa"
	"github.com/pforte-id/pforte/core/member"
	"github.com/pforte-id/pforte/core/registration"
)

// webRedirect is the online form's redirect URI; nothing listens there.
const webRedirect = "http://127.0.0.1:9/callback"

// testServer is an in-process Pforte on SQLite whose letter worker runs
// every 50 ms, with the Service-App, a service client, an admin client and
// web clients.
type testServer struct {
	issuer, outbox, secret string
	srv                    *server.Server
	// backchannel is where the tool's logout workload serves the
	// back-channel logout endpoints the two low clients registered.
	backchannel string
}

func startServer(t *testing.T) *testServer {
	t.Helper()
	ts := &testServer{outbox: t.TempDir(), secret: client.GenerateSecret(), backchannel: freeAddr(t)}
	lots := registration.Limit{Max: 1 << 20, Window: time.Hour}
	s := servertest.Start(t, func(o *server.Options) {
		hasher, err := server.SecretHasher(o.MasterKey)
		if err != nil {
			t.Fatal(err)
		}
		o.Clients = []client.Client{{
			ID: "pforte-app", Name: "Service-App", Kind: client.Native, AuthMethod: client.AuthNone,
			RedirectURIs: []string{"de.hkk.serviceapp:/oauth2redirect"},
			GrantTypes:   []string{client.GrantCode, client.GrantRefresh},
			Scopes:       []string{"openid", "profile", "kvnr", "offline_access"}, RequireDPoP: true,
		}, {
			ID: "claims-service", Name: "Leistungsservice", Kind: client.Service, AuthMethod: client.AuthSecretPost,
			SecretHash: hasher.Hash(ts.secret), GrantTypes: []string{client.GrantClientCredentials},
			Scopes: []string{"claims.read"},
		}, {
			// The support tool of the admin API: admin-status.
			ID: "support-tool", Name: "Support-Werkzeug", Kind: client.Service, AuthMethod: client.AuthSecretPost,
			SecretHash: hasher.Hash(ts.secret), GrantTypes: []string{client.GrantClientCredentials},
			Scopes: []string{"admin"},
		}, {
			// The password alone: password-login.
			ID: "beitragsrechner", Name: "Beitragsrechner", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash: hasher.Hash(ts.secret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{client.GrantCode}, Scopes: []string{"openid", "profile"}, MinACR: loa.Low,
			BackchannelLogoutURI: "http://" + ts.backchannel + "/backchannel-logout/beitragsrechner",
		}, {
			ID: "bonusprogramm", Name: "Bonusprogramm", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash: hasher.Hash(ts.secret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{client.GrantCode}, Scopes: []string{"openid"}, MinACR: loa.Low,
			BackchannelLogoutURI: "http://" + ts.backchannel + "/backchannel-logout/bonusprogramm",
		}, {
			// The default, substantial: web-login.
			ID: "online-forms", Name: "Online-Formulare", Kind: client.Web, AuthMethod: client.AuthSecretBasic,
			SecretHash: hasher.Hash(ts.secret), RedirectURIs: []string{webRedirect},
			GrantTypes: []string{client.GrantCode}, Scopes: []string{"openid", "profile"},
		}}
		o.OutboxDir, o.WorkerInterval = ts.outbox, 50*time.Millisecond
		o.Registration.PerIP, o.Registration.ActivationsPerIP = lots, lots
		// Every transfer begins from this one address: the most allowed.
		o.Binding.TransfersPerIP = 1000
	})
	ts.srv, ts.issuer = s.Server, s.URL
	return ts
}

// importMembers stores the members of a generated file, as the operator's
// `pforte members import` does.
// freeAddr is a loopback address with a port nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

func (ts *testServer) importMembers(t *testing.T, file string) {
	t.Helper()
	sms, err := readMembersFile(file, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ms []member.Member
	for _, m := range sms {
		ms = append(ms, member.Member{
			KVNR: kvnr.MustParse(m.KVNR), GivenName: m.GivenName, FamilyName: m.FamilyName, BirthDate: m.BirthDate,
			Address:     member.Address{Street: "Am Wall 1", PostalCode: "28195", Locality: "Bremen", Country: "DE"},
			InsuredFrom: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Now().UTC(),
		})
	}
	if err := ts.srv.Store().UpsertMembers(t.Context(), ms); err != nil {
		t.Fatal(err)
	}
}

// runTool runs the tool with args and --json and returns its result.
func runTool(t *testing.T, args ...string) Result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := realMain(t.Context(), append(args, "--json"), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errOut.String())
	}
	var r Result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("result: %v: %s", err, out.String())
	}
	t.Logf("%s: %d ok in %.2fs, %.0f/s, p50 %.2f ms, p99 %.2f ms", r.Workload, r.OK, r.ElapsedSec, r.Throughput, r.Latency.P50, r.Latency.P99)
	return r
}

func checkResult(t *testing.T, r Result, n uint64) {
	t.Helper()
	if r.Requests != n || r.OK != n || r.Failed != 0 || len(r.Errors) != 0 {
		t.Fatalf("want %d successful operations, got %+v", n, r)
	}
	l := r.Latency
	if !(l.Min > 0 && l.Min <= l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) || r.Throughput <= 0 {
		t.Fatalf("implausible figures: %+v", r)
	}
}

func TestWorkloadsAgainstPforte(t *testing.T) {
	ts := startServer(t)
	common := []string{"--issuer", ts.issuer, "--requests", "200", "--concurrency", "4"}
	for _, wl := range []string{"discovery", "jwks", "client-credentials", "introspect"} {
		t.Run(wl, func(t *testing.T) {
			checkResult(t, runTool(t, append(common, "--workload", wl,
				"--client-id", "claims-service", "--client-secret", ts.secret, "--auth-method", "client_secret_post")...), 200)
		})
	}
	// A member is enrolled once: each seeding workload gets its own file.
	for _, wl := range []string{"app-login", "refresh", "reconfirm", "pin-change"} {
		t.Run(wl, func(t *testing.T) {
			members := ts.newMembers(t, 6)
			checkResult(t, runTool(t, append(common, "--workload", wl, "--members-csv", members,
				"--outbox", ts.outbox, "--seed-timeout", "1m")...), 200)
		})
	}
	t.Run("transfer", func(t *testing.T) {
		// Each transfer moves a member to a new phone, which the next one
		// of the same member approves with: 40 move each of 6 members
		// several times.
		members := ts.newMembers(t, 6)
		r := runTool(t, append(common[:2:2], "--requests", "40", "--concurrency", "4", "--workload", "transfer",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m")...)
		checkResult(t, r, 40)
		checkSteps(t, r, stepTransferBegin, stepTransferApprov, stepTransferRedeem, stepTransferBind, stepTransferRevoke)
		// Every member ends with one active phone: each move removed the
		// phone it came from.
		ms, err := readMembersFile(members, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			acc, err := ts.srv.Store().AccountByKVNR(t.Context(), kvnr.MustParse(m.KVNR))
			if err != nil {
				t.Fatal(err)
			}
			bs, err := ts.srv.Store().ListBindings(t.Context(), acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			active := 0
			for _, b := range bs {
				if b.Status == device.Active {
					active++
				}
			}
			if active != 1 || len(bs) < 2 || acc.Status != account.Active {
				t.Errorf("member %s: account %s, %d bindings, %d of them active; want one active after its moves", m.KVNR, acc.Status, len(bs), active)
			}
		}
	})
	t.Run("pin-change steps", func(t *testing.T) {
		members := ts.newMembers(t, 4)
		r := runTool(t, append(common[:2:2], "--requests", "20", "--concurrency", "4", "--workload", "pin-change",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m")...)
		checkResult(t, r, 20)
		checkSteps(t, r, stepPINChallenge, stepPINChange)
	})
	t.Run("admin-status", func(t *testing.T) {
		members := ts.newMembers(t, 6)
		checkResult(t, runTool(t, append(common, "--workload", "admin-status", "--members-csv", members,
			"--outbox", ts.outbox, "--seed-timeout", "1m",
			"--client-id", "support-tool", "--client-secret", ts.secret, "--auth-method", "client_secret_post")...), 200)
	})
	t.Run("password-login", func(t *testing.T) {
		// Every login hashes once: 20 logins keep the test short.
		members := ts.newMembers(t, 4)
		r := runTool(t, "--issuer", ts.issuer, "--requests", "20", "--concurrency", "4", "--workload", "password-login",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m",
			"--client-id", "beitragsrechner", "--client-secret", ts.secret, "--web-redirect-uri", webRedirect,
			"--argon2-ms", "20", "--cores", "2")
		checkResult(t, r, 20)
		checkSteps(t, r, stepPage, stepPassword, stepToken)
		if a := r.Argon2; a == nil || a.CeilingPerSec != 100 || a.Reached != r.Throughput/100 {
			t.Fatalf("argon2 ceiling: %+v, want 100/s (2 cores ÷ 20 ms) and the throughput %.1f/s over it", a, r.Throughput)
		}
	})
	t.Run("web-login", func(t *testing.T) {
		members := ts.newMembers(t, 4)
		r := runTool(t, "--issuer", ts.issuer, "--requests", "12", "--concurrency", "4", "--workload", "web-login",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m",
			"--client-id", "online-forms", "--client-secret", ts.secret, "--web-redirect-uri", webRedirect)
		checkResult(t, r, 12)
		checkSteps(t, r, stepPage, stepPassword, stepApprove, stepContinue, stepToken)
	})
	t.Run("sso-login", func(t *testing.T) {
		members := ts.newMembers(t, 4)
		r := runTool(t, "--issuer", ts.issuer, "--requests", "40", "--concurrency", "4", "--workload", "sso-login",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m",
			"--client-id", "beitragsrechner", "--client-secret", ts.secret, "--web-redirect-uri", webRedirect)
		checkResult(t, r, 40)
		checkSteps(t, r, stepSSO, stepToken)
	})
	t.Run("logout", func(t *testing.T) {
		members := ts.newMembers(t, 4)
		r := runTool(t, "--issuer", ts.issuer, "--requests", "12", "--concurrency", "4", "--workload", "logout",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m",
			"--client-id", "beitragsrechner", "--client-secret", ts.secret, "--web-redirect-uri", webRedirect,
			"--second-client-id", "bonusprogramm", "--second-client-secret", ts.secret, "--second-redirect-uri", webRedirect,
			"--backchannel-addr", ts.backchannel)
		checkResult(t, r, 12)
		checkSteps(t, r, stepPage, stepPassword, stepToken, stepSecond, stepLogout, stepDelivered)
	})
	t.Run("registration", func(t *testing.T) {
		members := ts.newMembers(t, 12)
		r := runTool(t, "--issuer", ts.issuer, "--requests", "10", "--concurrency", "4", "--workload", "registration",
			"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m")
		checkResult(t, r, 10)
		checkSteps(t, r, stepOrder, stepLetter, stepActivate, stepOwnPW)
		if r.Ended != "" {
			t.Fatalf("ended early with members left: %s", r.Ended)
		}
	})
}

// newMembers generates a member file of n and imports it.
func (ts *testServer) newMembers(t *testing.T, n int) string {
	t.Helper()
	members := filepath.Join(t.TempDir(), "members.csv")
	if code := realMain(t.Context(), []string{"--generate-members", strconv.Itoa(n), "--out", members}, &bytes.Buffer{}, &bytes.Buffer{}); code != 0 {
		t.Fatalf("generate-members: exit %d", code)
	}
	ts.importMembers(t, members)
	return members
}

// checkSteps wants every operation to have timed each step.
func checkSteps(t *testing.T, r Result, steps ...string) {
	t.Helper()
	if len(r.Steps) != len(steps) {
		t.Fatalf("steps %+v, want %v", r.Steps, steps)
	}
	for i, s := range r.Steps {
		if s.Step != steps[i] || s.Count != r.OK || s.Latency.P50 <= 0 || s.Latency.Max > r.Latency.Max {
			t.Errorf("step %d: %+v, want %s timed %d times within the whole operation", i, s, steps[i], r.OK)
		}
	}
}

// TestRegistrationUsesEachMemberOnce: a run for longer than the members
// last ends when each has registered, and says so; more requests than
// members are refused before anything is sent.
func TestRegistrationUsesEachMemberOnce(t *testing.T) {
	ts := startServer(t)
	members := ts.newMembers(t, 5)
	args := []string{"--issuer", ts.issuer, "--workload", "registration", "--concurrency", "3",
		"--members-csv", members, "--outbox", ts.outbox, "--seed-timeout", "1m"}
	var out, errOut bytes.Buffer
	if code := realMain(t.Context(), append(args, "--requests", "6"), &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "each member registers once") {
		t.Fatalf("6 requests over 5 members: exit %d, stderr %q", code, errOut.String())
	}
	r := runTool(t, append(args, "--duration", "5m")...)
	checkResult(t, r, 5)
	if !strings.Contains(r.Ended, "every one of the 5 members") {
		t.Fatalf("ended: %q", r.Ended)
	}
}

// TestMembersAreBounded: a run takes at most maxMembers of a file, the
// first --members N of a larger one.
func TestMembersAreBounded(t *testing.T) {
	file := filepath.Join(t.TempDir(), "members.csv")
	if err := writeMembersFile(file, maxMembers+1); err != nil {
		t.Fatal(err)
	}
	e := &env{cfg: Config{MembersCSV: file}}
	if _, err := e.readMembers(); err == nil || !strings.Contains(err.Error(), "--members N") {
		t.Fatalf("a file of %d members: %v", maxMembers+1, err)
	}
	e.cfg.Members = 3
	ms, err := e.readMembers()
	if err != nil || len(ms) != 3 {
		t.Fatalf("--members 3: %d members, %v", len(ms), err)
	}
}

// TestServerMemory samples this process, which serves the in-process
// server: the peak of the samples is at least the last one, and so is the
// kernel's high-water mark read with it. (The high-water mark is not
// always above every earlier sample: the kernel updates it lazily, so a
// sample taken at the peak may exceed it by a little.)
func TestServerMemory(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/status is Linux only")
	}
	ts := startServer(t)
	r := runTool(t, "--issuer", ts.issuer, "--workload", "jwks", "--duration", "1s", "--concurrency", "4",
		"--server-pid", strconv.Itoa(os.Getpid()))
	m := r.Server
	if m == nil || m.PID != os.Getpid() || m.Samples < 2 {
		t.Fatalf("server memory: %+v", m)
	}
	if !(m.EndRSSMiB > 1 && m.EndRSSMiB <= m.PeakRSSMiB && m.EndRSSMiB <= m.HWMMiB) {
		t.Fatalf("want 1 MiB < end ≤ peak and end ≤ VmHWM: %+v", m)
	}
	// Server and tool are this process: the same CPU time, give or take
	// the clock ticks between the two reads (10 ms each, 0.01 cores in 1 s).
	if m.CPUCores <= 0.05 || math.Abs(m.CPUCores-m.ToolCPUCores) > 0.05 {
		t.Fatalf("CPU: server %v cores, tool %v cores; want the same, busy", m.CPUCores, m.ToolCPUCores)
	}
	var out bytes.Buffer
	r.print(&out)
	if !strings.Contains(out.String(), "server RSS   peak") {
		t.Fatalf("the text result lacks the memory:\n%s", out.String())
	}
}

func TestRefreshWithoutSeedsIsSkipped(t *testing.T) {
	ts := startServer(t)
	var out, errOut bytes.Buffer
	code := realMain(t.Context(), []string{"--issuer", ts.issuer, "--workload", "refresh", "--requests", "1"}, &out, &errOut)
	if code != 0 || !strings.Contains(errOut.String(), "skipped") || out.Len() != 0 {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}
}
