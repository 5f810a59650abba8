package client_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/client"
	"github.com/pforte-id/pforte/core/fault"
)

func portal() client.Client {
	return client.Client{
		ID: "portal", Kind: client.Portal, AuthMethod: client.AuthPrivateKeyJWT, JWKS: []byte(`{"keys":[]}`),
		RedirectURIs: []string{"https://portal.example/cb"}, GrantTypes: []string{client.GrantCode},
	}
}

func TestSectorIdentifierOK(t *testing.T) {
	for _, s := range []string{"portal.example", "a.b-c.example", "localhost", "x1.example", strings.Repeat("a", 63) + ".example"} {
		if err := client.SectorIdentifierOK(s); err != nil {
			t.Errorf("%q refused: %v", s, err)
		}
	}
	for _, s := range []string{
		"", "https://portal.example", "portal.example/path", "portal.example:443", "Portal.example",
		"-a.example", "a-.example", "a..example", ".example", "example.", "10.0.0.1", "::1", "por tal.example",
		"pörtal.example", strings.Repeat("a", 64) + ".example", strings.Repeat("a.", 127) + "ab",
	} {
		if err := client.SectorIdentifierOK(s); !errors.Is(err, fault.Invalid) {
			t.Errorf("%q: got %v, want Invalid", s, err)
		}
	}
}

func TestValidateAppLoginFields(t *testing.T) {
	ok := portal()
	ok.RequirePAR, ok.RequireDPoP, ok.SectorIdentifier = true, true, "portal.example"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid client refused: %v", err)
	}
	for name, c := range map[string]client.Client{
		"bad sector": func() client.Client { c := portal(); c.SectorIdentifier = "https://portal.example"; return c }(),
		"PAR without code grant": func() client.Client {
			return client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
				GrantTypes: []string{client.GrantClientCredentials}, RequirePAR: true}
		}(),
		"sector for a service": func() client.Client {
			return client.Client{ID: "svc", Kind: client.Service, AuthMethod: client.AuthSecretBasic, SecretHash: "h",
				GrantTypes: []string{client.GrantClientCredentials}, SectorIdentifier: "svc.example"}
		}(),
	} {
		if err := c.Validate(); !errors.Is(err, fault.Invalid) {
			t.Errorf("%s: got %v, want Invalid", name, err)
		}
	}
}
