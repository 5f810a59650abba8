package main

import (
	"regexp"
	"strings"
	"testing"
)

// The support commands on an enrolled demo member: find, status, letter
// (interval and override), lock and unlock, sessions, revoke, the audit
// query naming the operator, and a client's secret rotation.
func TestSupportCommands(t *testing.T) {
	dir := t.TempDir()
	e := enrollDemo(t, dir)
	const op = "M. Muster, Servicecenter"
	fields := func(s string) string { return strings.Join(strings.Fields(s), " ") }

	r := pforte(t, dir, "members", "search", "--family-name", "beispiel", "--birth-date", "1985-03-14", "--operator", op)
	wantCode(t, r, exitOK, "members search")
	if !strings.Contains(fields(r.stdout), demoKVNR+" Anna Beispiel 1985-03-14 registered") {
		t.Errorf("search:\n%s", r.stdout)
	}
	r = pforte(t, dir, "members", "search", "--kvnr", otherKVNR, "--operator", op)
	if !strings.Contains(fields(r.stdout), otherKVNR+" Björn Mustermann 1972-11-02 not_registered") {
		t.Errorf("search by kvnr:\n%s", r.stdout)
	}
	r = pforte(t, dir, "members", "search", "--family-name", "Beispiel", "--birth-date", "1985-03-15", "--operator", op)
	if strings.TrimSpace(r.stdout) != "No member found." {
		t.Errorf("search, other date:\n%s", r.stdout)
	}

	r = pforte(t, dir, "members", "status", "--kvnr", demoKVNR, "--operator", op)
	wantCode(t, r, exitOK, "members status")
	out := fields(r.stdout)
	for _, want := range []string{"Member: " + demoKVNR + " (registered)", "Name: Anna Beispiel, born 1985-03-14",
		"proofing substantial, password set", e.binding + " Annas Pixel active set 0", "Latest letter:", "activated"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "argon2") || strings.Contains(r.stdout, "v1:") {
		t.Errorf("status shows a hash:\n%s", r.stdout)
	}

	// The letter interval, and its override with a reason.
	r = pforte(t, dir, "members", "letter", "--kvnr", demoKVNR, "--operator", op)
	assertOneLine(t, r, exitError, "pforte: members letter: The last letter was ordered on ")
	r = pforte(t, dir, "members", "letter", "--kvnr", demoKVNR, "--operator", op, "--override-interval")
	assertOneLine(t, r, exitUsage, "pforte: members letter: Please give a reason")
	r = pforte(t, dir, "members", "letter", "--kvnr", demoKVNR, "--operator", op, "--override-interval", "--reason", "Brief verloren")
	wantCode(t, r, exitOK, "members letter")
	if !regexp.MustCompile(`^Letter \S+ ordered for member ` + demoKVNR).MatchString(r.stdout) {
		t.Errorf("letter: %s", r.stdout)
	}

	// Lock: the device cannot log in; unlock: it can again.
	r = pforte(t, dir, "members", "lock", "--kvnr", demoKVNR, "--operator", op)
	assertOneLine(t, r, exitUsage, "pforte: members lock: Please give a reason")
	r = pforte(t, dir, "members", "lock", "--kvnr", demoKVNR, "--operator", op, "--reason", "Missbrauchsverdacht")
	wantCode(t, r, exitOK, "members lock")
	if _, err := e.enterPIN(t, testPIN); err == nil {
		t.Fatal("a locked account's device logged in")
	}
	r = pforte(t, dir, "members", "lock", "--kvnr", demoKVNR, "--operator", op, "--reason", "nochmal")
	if !strings.Contains(r.stdout, "was locked already") {
		t.Errorf("lock again: %s", r.stdout)
	}
	r = pforte(t, dir, "members", "unlock", "--kvnr", demoKVNR, "--operator", op, "--reason", "Mitglied verifiziert")
	wantCode(t, r, exitOK, "members unlock")
	if _, err := e.enterPIN(t, testPIN); err != nil {
		t.Fatalf("after the unlock: %v", err)
	}
	r = pforte(t, dir, "members", "unlock", "--kvnr", demoKVNR, "--operator", op, "--reason", "x")
	assertOneLine(t, r, exitError, "pforte: members unlock: The account is not locked.")

	r = pforte(t, dir, "members", "end-sessions", "--kvnr", demoKVNR, "--operator", op)
	wantCode(t, r, exitOK, "members end-sessions")

	// Revoke: another member's id is not found; the member's own is revoked.
	r = pforte(t, dir, "devices", "revoke", e.binding, "--kvnr", otherKVNR, "--operator", op)
	assertOneLine(t, r, exitError, "pforte: devices revoke: The member has no account yet")
	r = pforte(t, dir, "devices", "revoke", "no-such-device", "--kvnr", demoKVNR, "--operator", op)
	assertOneLine(t, r, exitError, "pforte: devices revoke: The member has no device with this id.")
	r = pforte(t, dir, "devices", "revoke", "--kvnr", demoKVNR, "--operator", op, "--", e.binding)
	wantCode(t, r, exitOK, "devices revoke")
	r = pforte(t, dir, "devices", "list", "--kvnr", demoKVNR)
	if !strings.Contains(r.stdout, "revoked 20") {
		t.Errorf("after the revoke:\n%s", r.stdout)
	}
	r = pforte(t, dir, "devices", "revoke", "--all", "--kvnr", demoKVNR, "--operator", op)
	if strings.TrimSpace(r.stdout) != "0 devices of member "+demoKVNR+" revoked." {
		t.Errorf("revoke --all after the revoke: %s", r.stdout)
	}

	// The audit query by kind, across members, names the operator.
	r = pforte(t, dir, "audit", "--kind", "account.locked", "--kind", "account.unlocked", "--kind", "device.revoked",
		"--kind", "support.letter_ordered", "--from", "2000-01-01", "--operator", op)
	wantCode(t, r, exitOK, "audit")
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) != 5 || fields(lines[0]) != "TIME ACCOUNT KIND ACTOR CLIENT DETAIL" {
		t.Fatalf("audit query:\n%s", r.stdout)
	}
	for _, l := range lines[1:] {
		if !strings.Contains(fields(l), " operator operator ") || !strings.Contains(l, `operator="M. Muster, Servicecenter"`) {
			t.Errorf("event without the operator: %q", l)
		}
	}
	r = pforte(t, dir, "audit", "--kind", "nope", "--operator", op)
	assertOneLine(t, r, exitUsage, "pforte: audit: The query is invalid: kind.")

	// Delete: a reason is needed; then the account is gone, once.
	r = pforte(t, dir, "members", "delete", "--kvnr", demoKVNR, "--operator", op)
	assertOneLine(t, r, exitUsage, "pforte: members delete: Please give a reason")
	r = pforte(t, dir, "members", "delete", "--kvnr", demoKVNR, "--operator", op, "--reason", "Wunsch des Mitglieds")
	wantCode(t, r, exitOK, "members delete")
	if strings.TrimSpace(r.stdout) != "The account of member "+demoKVNR+" is deleted." {
		t.Errorf("members delete: %s", r.stdout)
	}
	r = pforte(t, dir, "members", "delete", "--kvnr", demoKVNR, "--operator", op, "--reason", "nochmal")
	assertOneLine(t, r, exitError, "pforte: members delete: The member has no account (any more); nothing was deleted.")
	r = pforte(t, dir, "audit", "--kind", "account.deleted", "--from", "2000-01-01", "--operator", op)
	if !strings.Contains(r.stdout, "account.deleted") || !strings.Contains(r.stdout, "reason=support") || strings.Contains(r.stdout, demoKVNR) {
		t.Errorf("the deletion's audit entry:\n%s", r.stdout)
	}
}

func TestSupportClientCommands(t *testing.T) {
	dir := t.TempDir()
	const op = "M. Muster"
	r := pforte(t, dir, "clients", "add", "--id", "batch", "--kind", "service", "--scope", "claims.read")
	wantCode(t, r, exitOK, "clients add")
	r = pforte(t, dir, "clients", "rotate-secret", "batch", "--operator", op, "--previous-valid-for", "48h")
	wantCode(t, r, exitOK, "clients rotate-secret")
	if !regexp.MustCompile(`(?m)^client_secret: \S{43}$`).MatchString(r.stdout) || !strings.Contains(r.stdout, "The old secret works until ") {
		t.Errorf("rotate-secret:\n%s", r.stdout)
	}
	r = pforte(t, dir, "clients", "finish-rollover", "batch", "--operator", op)
	if !strings.Contains(r.stdout, "only the new secret works") {
		t.Errorf("finish-rollover: %s", r.stdout)
	}
	r = pforte(t, dir, "clients", "finish-rollover", "batch", "--operator", op)
	if !strings.Contains(r.stdout, "nothing to do") {
		t.Errorf("finish-rollover again: %s", r.stdout)
	}
	r = pforte(t, dir, "clients", "rotate-secret", "batch", "--operator", op, "--immediately", "--previous-valid-for", "1h")
	assertOneLine(t, r, exitUsage, "pforte: give at most one of")
	r = pforte(t, dir, "clients", "rotate-secret", "batch", "--operator", op, "--previous-valid-for", "1000h")
	assertOneLine(t, r, exitError, "pforte: clients rotate-secret: ")
	r = pforte(t, dir, "clients", "edit", "batch", "--operator", op, "--name", "Stapelverarbeitung")
	wantCode(t, r, exitOK, "clients edit")
	r = pforte(t, dir, "clients", "edit", "batch", "--operator", op)
	assertOneLine(t, r, exitUsage, "pforte: nothing to change")
	r = pforte(t, dir, "clients", "edit", "nope", "--operator", op, "--name", "x")
	assertOneLine(t, r, exitError, "pforte: clients edit: There is no client with this id.")
	// The development clients come from the embedded clients file.
	r = pforte(t, dir, "clients", "rotate-secret", "claims-service", "--operator", op)
	if r.code != exitError || !strings.Contains(r.stderr, "declared in the clients file") {
		t.Errorf("rotating a declared client: exit %d, %s", r.code, r.stderr)
	}
	r = pforte(t, dir, "clients", "rotate-secret", "batch")
	assertOneLine(t, r, exitUsage, "pforte: --operator is required")
}
