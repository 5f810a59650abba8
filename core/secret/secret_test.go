package secret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/pforte-id/pforte/core/secret"
)

func TestNeverPrinted(t *testing.T) {
	s := secret.String("hunter2")
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "s", s, "in", struct{ S secret.String }{s})
	j, _ := json.Marshal(struct{ S secret.String }{s})
	for _, out := range []string{fmt.Sprint(s), fmt.Sprintf("%v %s %#v %+v", s, s, s, struct{ S secret.String }{s}), logs.String(), string(j)} {
		if strings.Contains(out, "hunter2") || !strings.Contains(out, "[redacted]") {
			t.Errorf("secret shown or not marked: %s", out)
		}
	}
	if s.Reveal() != "hunter2" {
		t.Fatal("Reveal lost the value")
	}
	if fmt.Sprint(secret.String("")) != "" {
		t.Fatal("an empty secret should print empty")
	}
}
