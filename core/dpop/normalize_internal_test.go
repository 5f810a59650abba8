package dpop

import "testing"

func TestRemoveDotSegments(t *testing.T) {
	// RFC 3986 §5.2.4 and the paths of its §5.4 examples.
	for in, want := range map[string]string{
		"/a/b/c/./../../g":   "/a/g",
		"mid/content=5/../6": "mid/6",
		"/b/c/g/":            "/b/c/g/",
		"/b/c/./":            "/b/c/",
		"/b/c/../":           "/b/",
		"/b/c/../..":         "/",
		"/../../g":           "/g",
		"/./g/.":             "/g/",
		"/g.":                "/g.",
		"/..g":               "/..g",
		"/a//b":              "/a//b",
		"":                   "",
		".":                  "",
		"/":                  "/",
	} {
		if got := removeDotSegments(in); got != want {
			t.Errorf("removeDotSegments(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNormalizeURL(t *testing.T) {
	for in, want := range map[string]string{
		"HTTPS://Login.Example:443/a/%7euser/%2f?q#f": "https://login.example/a/~user/%2F",
		"http://login.example:80":                     "http://login.example/",
		"http://login.example:8080/x":                 "http://login.example:8080/x",
		"https://[2001:DB8::1]:443/x":                 "https://[2001:db8::1]/x",
		"https://login.example/a b":                   "https://login.example/a%20b",
	} {
		got, err := normalizeURL(in)
		if err != nil || got != want {
			t.Errorf("normalizeURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
