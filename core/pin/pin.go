package pin

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Length is the number of digits of a release PIN.
const Length = 6

// common are PINs that are chosen far more often than chance would have
// it, beyond the patterns Check refuses anyway (from published analyses of
// leaked PIN sets).
var common = map[string]bool{
	"123123": true, "121212": true, "112233": true, "147258": true, "159753": true, "258258": true,
	"131313": true, "101010": true, "252525": true, "696969": true, "159357": true, "753951": true,
	"147852": true, "102030": true, "100200": true, "123321": true, "110110": true, "520520": true,
	"007007": true, "999666": true, "666999": true, "200000": true, "100000": true, "654123": true,
}

// Check refuses a PIN that is not exactly six digits, or that is trivial:
// all digits equal, an ascending or descending run, a common PIN, or the
// member's date of birth (birthDate YYYY-MM-DD) in the forms of
// birthDateForms.
// Errors: fault.Invalid with one of the Code* reasons below.
func Check(p, birthDate string) error {
	if len(p) != Length || strings.Trim(p, "0123456789") != "" {
		return reject(CodeFormat)
	}
	if strings.Count(p, p[:1]) == Length {
		return reject(CodeRepeated)
	}
	if isRun(p, 1) || isRun(p, -1) {
		return reject(CodeSequence)
	}
	if common[p] || isRepeatedPair(p) || isRepeatedTriple(p) {
		return reject(CodeCommon)
	}
	if slices.Contains(birthDateForms(birthDate), p) {
		return reject(CodeBirthDate)
	}
	return nil
}

// Codes of a refused PIN (Check); none has parameters.
const (
	CodeFormat    fault.Code = "pin.format"     // not exactly six digits
	CodeRepeated  fault.Code = "pin.repeated"   // one digit six times
	CodeSequence  fault.Code = "pin.sequence"   // an ascending or descending run
	CodeCommon    fault.Code = "pin.common"     // a PIN chosen far too often
	CodeBirthDate fault.Code = "pin.birth_date" // the member's date of birth
)

func reject(code fault.Code) error { return fault.Coded(fault.Invalid, "pin.Check", code) }

// isRun reports whether each digit is the previous plus step, modulo 10
// (so 890123 and 321098 count as runs too).
func isRun(p string, step int) bool {
	for i := 1; i < len(p); i++ {
		if (int(p[i]-'0')-int(p[i-1]-'0')+10)%10 != (step+10)%10 {
			return false
		}
	}
	return true
}

func isRepeatedPair(p string) bool   { return p[0:2] == p[2:4] && p[2:4] == p[4:6] }
func isRepeatedTriple(p string) bool { return p[0:3] == p[3:6] }

// birthDateForms are the six-digit forms of a date of birth YYYY-MM-DD:
// DDMMYY, YYMMDD, MMDDYY, and from DDMMYYYY the windows DDMMYY, MMYYYY,
// DDMM+century, plus YYYYMM.
func birthDateForms(birthDate string) []string {
	t, err := time.Parse("2006-01-02", birthDate)
	if err != nil {
		return nil
	}
	full := t.Format("02012006") // DDMMYYYY
	return []string{
		t.Format("020106"), t.Format("060102"), t.Format("010206"),
		full[0:6], full[1:7], full[2:8], t.Format("200601"),
	}
}

// Pepper is one version of the server-side key PINs are hashed under. It is
// kept outside the database, so a stolen database alone does not allow
// trying the 10^6 PINs offline.
type Pepper struct {
	Version int
	Key     []byte
}

// Hasher hashes PINs under versioned peppers: new hashes use the current
// version; old hashes stay verifiable until rehashed after a correct entry.
type Hasher struct {
	current int
	keys    map[int][]byte
}

// NewHasher returns a Hasher. current names the version new PINs use.
// Errors: fault.Invalid for a missing current version or a short key.
func NewHasher(current int, peppers ...Pepper) (*Hasher, error) {
	h := &Hasher{current: current, keys: map[int][]byte{}}
	for _, p := range peppers {
		if len(p.Key) < 32 || p.Version < 1 {
			return nil, fault.New(fault.Invalid, "pin.NewHasher", "PIN peppers need a version ≥ 1 and at least 32 bytes")
		}
		h.keys[p.Version] = slices.Clone(p.Key)
	}
	if _, ok := h.keys[current]; !ok {
		return nil, fault.New(fault.Invalid, "pin.NewHasher", fmt.Sprintf("no PIN pepper of the current version %d", current))
	}
	return h, nil
}

// Hash returns the stored form of pin for a device binding: the pepper
// version and HMAC-SHA-256 over the binding id and the PIN. Binding the
// hash to the binding id means a hash copied to another binding is useless.
func (h *Hasher) Hash(bindingID, pin string) string {
	return "v" + strconv.Itoa(h.current) + ":" + mac(h.keys[h.current], bindingID, pin)
}

// Verify compares pin with stored in constant time. stale is true when
// stored uses an older pepper version (rehash after a correct entry).
func (h *Hasher) Verify(bindingID, pin, stored string) (ok, stale bool) {
	ver, sum, found := strings.Cut(stored, ":")
	v, err := strconv.Atoi(strings.TrimPrefix(ver, "v"))
	key, known := h.keys[v]
	if !found || err != nil || !known {
		return false, false
	}
	return subtle.ConstantTimeCompare([]byte(mac(key, bindingID, pin)), []byte(sum)) == 1, v != h.current
}

func mac(key []byte, bindingID, pin string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(bindingID))
	m.Write([]byte{0})
	m.Write([]byte(pin))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
