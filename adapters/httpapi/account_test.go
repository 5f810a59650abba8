package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// A deletion without the member's explicit confirmation is refused
// before anything is checked or changed.
func TestDeleteAccountNeedsConfirmation(t *testing.T) {
	h := New(Config{}, nil, nil, nil, nil, nil, quiet).Handler()
	for _, body := range []string{`{"proof":{"challenge_id":"c","assertion":{},"pin":"123456"}}`,
		`{"proof":{"challenge_id":"c","assertion":{},"pin":"123456"},"confirm":false}`} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodPost, Prefix+"account/delete", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Language", "de")
		h.ServeHTTP(rec, req)
		var p struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &p)
		if rec.Code != http.StatusBadRequest || p.Code != string(codeDeleteConfirm) || !strings.Contains(p.Detail, "bestätigen") {
			t.Errorf("%s: %d %s", body, rec.Code, rec.Body.String())
		}
	}
}
