package loa_test

import (
	"slices"
	"testing"

	"github.com/pforte-id/pforte/core/loa"
)

func TestReach(t *testing.T) {
	for _, tc := range []struct {
		name     string
		proofing loa.Level
		amr      []string
		want     loa.Level
		wantAMR  []string
	}{
		{"password alone is low even for eID-proofed", loa.High, []string{"pwd"}, loa.Low, []string{"pwd"}},
		{"letter + key + PIN is substantial", loa.Substantial, []string{"hwk", "pin"}, loa.Substantial, []string{"hwk", "pin", "mfa"}},
		{"eID + key + PIN is high", loa.High, []string{"hwk", "pin"}, loa.High, []string{"hwk", "pin", "mfa"}},
		{"unproofed member with two factors stays low", loa.Low, []string{"hwk", "pin"}, loa.Low, []string{"hwk", "pin"}},
		{"nothing is none", loa.High, nil, loa.None, nil},
	} {
		got := loa.Reach(tc.proofing, tc.amr)
		if got.Level != tc.want || !slices.Equal(got.AMR, tc.wantAMR) {
			t.Errorf("%s: got %v %v, want %v %v", tc.name, got.Level, got.AMR, tc.want, tc.wantAMR)
		}
	}
}

func TestVocabularyRoundTrip(t *testing.T) {
	for _, v := range []loa.Vocabulary{loa.EIDAS, loa.Gematik} {
		for _, l := range []loa.Level{loa.Low, loa.Substantial, loa.High} {
			got, ok := v.Level(v.ACR(l))
			if !ok || got != l {
				t.Errorf("%v: round trip of %v gave %v", v, l, got)
			}
		}
		if _, ok := v.Level("urn:unknown"); ok {
			t.Error("unknown acr accepted")
		}
	}
}
