package password_test

import (
	"errors"
	"testing"
	"time"

	"github.com/pforte-id/pforte/core/fault"
	"github.com/pforte-id/pforte/core/password"
)

// The bounds of the hashing configuration, each refusal naming its field.
func TestConfigValidate(t *testing.T) {
	def := password.DefaultConfig()
	with := func(f func(*password.Config)) password.Config {
		c := def
		f(&c)
		return c
	}
	for _, tc := range []struct {
		name  string
		c     password.Config
		field string // "": valid
	}{
		{"default", def, ""},
		{"2 GiB, 64 passes", with(func(c *password.Config) { c.Params.MemoryKiB, c.Params.Iterations = 2048*1024, 64 }), ""},
		{"below 19 MiB", with(func(c *password.Config) { c.Params.MemoryKiB = 19*1024 - 1 }), "password.Params.MemoryKiB"},
		{"above 2 GiB", with(func(c *password.Config) { c.Params.MemoryKiB = 2048*1024 + 1 }), "password.Params.MemoryKiB"},
		{"one pass", with(func(c *password.Config) { c.Params.Iterations = 1 }), "password.Params.Iterations"},
		{"65 passes", with(func(c *password.Config) { c.Params.Iterations = 65 }), "password.Params.Iterations"},
		{"no lanes", with(func(c *password.Config) { c.Params.Parallelism = 0 }), "password.Params.Parallelism"},
		{"negative concurrency", with(func(c *password.Config) { c.Concurrency = -1 }), "password.Config.Concurrency"},
		{"no wait", with(func(c *password.Config) { c.MaxWait = 0 }), "password.Config.MaxWait"},
		{"a minute's wait", with(func(c *password.Config) { c.MaxWait = time.Minute }), "password.Config.MaxWait"},
	} {
		err := tc.c.Validate()
		var fe *fault.Error
		switch {
		case tc.field == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.field != "" && (!errors.As(err, &fe) || fe.Kind != fault.Invalid || fe.Op != tc.field):
			t.Errorf("%s: got %v, want Invalid naming %s", tc.name, err, tc.field)
		}
	}
}
