package webauthn

import (
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/pforte-id/pforte/core/device"
	"github.com/pforte-id/pforte/core/fault"
)

// maxRevocationFile bounds the revocation list Pforte reads. Google's
// list held a few thousand entries (well under 1 MiB) in 2025; a file
// far larger is not that list.
const maxRevocationFile = 32 << 20

// RevocationList is Google's Android attestation certificate status list
// (https://android.googleapis.com/attestation/status), read from a file
// the operator refreshes, for example daily by cron:
//
//	curl -fsS --retry 3 -o status.json.tmp https://android.googleapis.com/attestation/status && mv status.json.tmp status.json
//
// Pforte fetches nothing itself. Its format is
//
//	{"entries": {"<serial number, lower-case hex>": {"status": "REVOKED"|"SUSPENDED", "reason": "…", …}, …}}
//
// The list names the certificates of attestation keys that leaked or were
// misused: such a key can attest any key, a software key on a rooted
// phone included, as hardware-backed.
//
// A RevocationList rereads the file when its modification time or size
// changes, at the next lookup. A file that no longer reads or parses
// leaves the last good list in force (a half-written copy must not
// unrevoke anything); Loaded keeps saying when that list was written, so
// its age grows and the metric and `pforte doctor` show it. It is safe
// for concurrent use.
type RevocationList struct {
	path string

	mu      sync.Mutex
	entries map[string]device.Revocation
	modTime time.Time // of the file the entries came from
	size    int64
}

// OpenRevocationList reads the list at path. Errors: Invalid (the file
// does not read or is not a status list; the message says which).
func OpenRevocationList(path string) (*RevocationList, error) {
	l := &RevocationList{path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fault.Wrap(fault.Invalid, "webauthn.OpenRevocationList", err).WithPublic("The revocation list cannot be read.")
	}
	if err := l.load(fi); err != nil {
		return nil, err
	}
	return l, nil
}

// Path is the file the list is read from.
func (l *RevocationList) Path() string { return l.path }

// Loaded returns the modification time of the file the list in force was
// read from: the age of what Pforte checks against. It rereads a changed
// file first, as a lookup would, so that a refresh shows at once.
func (l *RevocationList) Loaded() time.Time {
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.modTime
}

// load reads the file described by fi into l. Callers hold no lock.
func (l *RevocationList) load(fi os.FileInfo) error {
	const op = "webauthn.RevocationList"
	f, err := os.Open(l.path)
	if err != nil {
		return fault.Wrap(fault.Invalid, op, err).WithPublic("The revocation list cannot be read.")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxRevocationFile+1))
	if err != nil {
		return fault.Wrap(fault.Invalid, op, err).WithPublic("The revocation list cannot be read.")
	}
	entries, err := ParseRevocationList(data)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.entries, l.modTime, l.size = entries, fi.ModTime(), fi.Size()
	return nil
}

// refresh rereads the file when it changed. A failure keeps the list in
// force (see RevocationList).
func (l *RevocationList) refresh() {
	fi, err := os.Stat(l.path)
	if err != nil {
		return
	}
	l.mu.Lock()
	same := fi.ModTime().Equal(l.modTime) && fi.Size() == l.size
	l.mu.Unlock()
	if !same {
		_ = l.load(fi)
	}
}

// Status returns the worst status of the certificates of chain: Revoked
// over Suspended over not listed. An entry with a status Pforte does not
// know counts as Revoked: Google lists only certificates that are not
// good.
func (l *RevocationList) Status(chain []*x509.Certificate) device.Revocation {
	l.refresh()
	l.mu.Lock()
	defer l.mu.Unlock()
	worst := device.Revocation("")
	for _, c := range chain {
		if c == nil || c.SerialNumber == nil {
			continue
		}
		switch st, ok := l.entries[c.SerialNumber.Text(16)]; {
		case !ok:
		case st == device.CertSuspended:
			if worst == "" {
				worst = device.CertSuspended
			}
		default:
			worst = device.CertRevoked
		}
	}
	return worst
}

// ParseRevocationList reads a status list: the serial numbers (lower-case
// hex without leading zeros, as Google writes them) and their status.
// Errors: Invalid (too large, not JSON, no "entries" object, an entry
// without status or with a serial number that is not hex).
func ParseRevocationList(data []byte) (map[string]device.Revocation, error) {
	const op = "webauthn.ParseRevocationList"
	bad := func(format string, args ...any) error {
		msg := "The revocation list is not Google's attestation status list: " + fmt.Sprintf(format, args...)
		return fault.New(fault.Invalid, op, msg).WithPublic(msg)
	}
	if len(data) > maxRevocationFile {
		return nil, bad("larger than %d MiB", maxRevocationFile>>20)
	}
	var doc struct {
		Entries map[string]struct {
			Status string `json:"status"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		var syntax *json.SyntaxError
		if errors.As(err, &syntax) {
			return nil, bad("invalid JSON at byte %d", syntax.Offset)
		}
		return nil, bad("unexpected JSON structure")
	}
	if doc.Entries == nil {
		return nil, bad(`no "entries" object`)
	}
	entries := make(map[string]device.Revocation, len(doc.Entries))
	for serial, e := range doc.Entries {
		key := strings.TrimLeft(strings.ToLower(serial), "0")
		if key == "" && serial != "" {
			key = "0"
		}
		if key == "" || strings.Trim(key, "0123456789abcdef") != "" {
			return nil, bad("the serial number %q is not hexadecimal", serial)
		}
		if e.Status == "" {
			return nil, bad("the entry %q has no status", serial)
		}
		// Two spellings of one serial ("ab", "00AB"): the worse status
		// counts, whatever order the map is walked in.
		st := device.Revocation(strings.ToUpper(e.Status))
		if prev, ok := entries[key]; ok && prev != device.CertSuspended {
			continue
		}
		entries[key] = st
	}
	return entries, nil
}
