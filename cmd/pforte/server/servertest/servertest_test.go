package servertest_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pforte-id/pforte/cmd/pforte/server"
	"github.com/pforte-id/pforte/cmd/pforte/server/servertest"
	"github.com/pforte-id/pforte/core/coretest"
)

func TestStart(t *testing.T) {
	now := time.Now().UTC()
	s := servertest.Start(t, func(o *server.Options) {
		o.Members = []server.Member{servertest.Member("acc-anna", coretest.Anna, now)}
	})
	if s.Issuer() != s.URL {
		t.Fatalf("issuer %q, want the server's URL %q", s.Issuer(), s.URL)
	}
	resp, err := http.Get(s.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("discovery: status %d", resp.StatusCode)
	}
	a, err := s.Store().AccountByKVNR(t.Context(), coretest.Anna.KVNR)
	if err != nil || a.ID != "acc-anna" || a.PasswordHash != coretest.PasswordHash() {
		t.Fatalf("the member's account: %+v, %v", a, err)
	}
	if s.Logs.String() == "" {
		t.Fatal("the server's log is empty")
	}
}
