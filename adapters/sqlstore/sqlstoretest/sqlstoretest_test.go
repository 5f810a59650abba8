package sqlstoretest

import "testing"

func TestWithSearchPath(t *testing.T) {
	for _, tc := range []struct{ dsn, want string }{
		{"postgres://u@127.0.0.1:5432/test?sslmode=disable", "postgres://u@127.0.0.1:5432/test?search_path=s1&sslmode=disable"},
		{"host=127.0.0.1 user=u dbname=test", "host=127.0.0.1 user=u dbname=test search_path=s1"},
	} {
		if got := WithSearchPath(t, tc.dsn, "s1"); got != tc.want {
			t.Errorf("WithSearchPath(%q) = %q, want %q", tc.dsn, got, tc.want)
		}
	}
}
