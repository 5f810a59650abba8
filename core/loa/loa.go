package loa

import (
	"fmt"
	"slices"
	"time"

	"github.com/pforte-id/pforte/core/fault"
)

// Level is an assurance level; the order is meaningful (Low < Substantial < High).
type Level uint8

const (
	// None: not authenticated.
	None Level = iota
	// Low: one factor, e.g. password alone.
	Low
	// Substantial: letter-proofed member with two factors (eIDAS substantial).
	Substantial
	// High: eID-proofed member with two factors (eIDAS high).
	High
)

func (l Level) String() string {
	switch l {
	case Low:
		return "low"
	case Substantial:
		return "substantial"
	case High:
		return "high"
	default:
		return "none"
	}
}

// ParseLevel reads the names String writes.
func ParseLevel(s string) (Level, error) {
	switch s {
	case "low":
		return Low, nil
	case "substantial":
		return Substantial, nil
	case "high":
		return High, nil
	case "none", "":
		return None, nil
	}
	return None, fault.New(fault.Invalid, "loa.ParseLevel", "unknown level "+s)
}

// Authentication method references (RFC 8176).
const (
	AMRPassword = "pwd"
	AMRHardware = "hwk"
	AMRPIN      = "pin"
	AMRMulti    = "mfa"
)

// Vocabulary maps levels to acr strings. Relying parties differ in which
// strings they expect, so it is configuration, not code.
type Vocabulary struct {
	Low, Substantial, High string
}

// EIDAS is the default vocabulary.
var EIDAS = Vocabulary{
	Low:         "http://eidas.europa.eu/LoA/low",
	Substantial: "http://eidas.europa.eu/LoA/substantial",
	High:        "http://eidas.europa.eu/LoA/high",
}

// Gematik is the vocabulary of the gematik health ID (GesundheitsID).
var Gematik = Vocabulary{
	Low:         "gematik-ehealth-loa-low",
	Substantial: "gematik-ehealth-loa-substantial",
	High:        "gematik-ehealth-loa-high",
}

// DefaultVocabulary is the name of the vocabulary used when none is
// configured: EIDAS.
const DefaultVocabulary = "eidas"

// vocabularies are the vocabularies by the names the configuration uses.
var vocabularies = map[string]Vocabulary{DefaultVocabulary: EIDAS, "gematik": Gematik}

// VocabularyNamed returns the vocabulary called name (eidas or gematik).
// Errors: fault.Invalid.
func VocabularyNamed(name string) (Vocabulary, error) {
	v, ok := vocabularies[name]
	if !ok {
		return Vocabulary{}, fault.New(fault.Invalid, "loa.VocabularyNamed", fmt.Sprintf("must be eidas or gematik, not %q", name))
	}
	return v, nil
}

// ACR returns the acr value of l; None has none.
func (v Vocabulary) ACR(l Level) string {
	switch l {
	case Low:
		return v.Low
	case Substantial:
		return v.Substantial
	case High:
		return v.High
	}
	return ""
}

// Level returns the level an acr value names, and false when the value is not
// in the vocabulary.
func (v Vocabulary) Level(acr string) (Level, bool) {
	switch acr {
	case v.Low:
		return Low, true
	case v.Substantial:
		return Substantial, true
	case v.High:
		return High, true
	}
	return None, false
}

// Values lists the acr values, lowest first (for discovery).
func (v Vocabulary) Values() []string { return []string{v.Low, v.Substantial, v.High} }

// Achieved is what one authentication proved: the methods used and the level
// they reach for this member.
type Achieved struct {
	Level Level
	AMR   []string
}

// Reach computes the level from the member's proofing level and the methods
// used. One factor is Low whatever the proofing; two factors (possession and
// knowledge) reach the proofing level. This is the one place that decides it.
func Reach(proofing Level, amr []string) Achieved {
	possession := slices.Contains(amr, AMRHardware)
	knowledge := slices.Contains(amr, AMRPassword) || slices.Contains(amr, AMRPIN)
	switch {
	case possession && knowledge && proofing >= Substantial:
		out := slices.Clone(amr)
		if !slices.Contains(out, AMRMulti) {
			out = append(out, AMRMulti)
		}
		return Achieved{Level: proofing, AMR: out}
	case knowledge || possession:
		return Achieved{Level: Low, AMR: slices.Clone(amr)}
	}
	return Achieved{Level: None}
}

// Authentication is what one login proved about a member: who, at which
// proofing level, with which methods, and when.
type Authentication struct {
	Subject  string
	Proofing Level
	AMR      []string
	Time     time.Time
	// BindingID is the device binding whose key authenticated (app
	// login); empty for a password login. Tokens issued from the login
	// are tied to it, so that revoking the binding revokes them.
	BindingID string
	// SessionID is the single sign-on session the login was made in or
	// answered from (core/session); empty outside a browser. Tokens
	// issued from the login are tied to it, so that ending the session
	// revokes them.
	SessionID string
}
